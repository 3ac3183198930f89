"""Which tokens can start a post: none that begins with whitespace.

Prepared posts are stripped, so in training the token after a separator never begins with a
space or a newline; a sample that starts with one (`` is``, `` and``) reads as a fragment cut from
the middle of a sentence. A fine-tuned model still puts a few percent of its first-token mass on
such tokens (9% for andreruffert's default model), so unprompted sampling bans them at the first
step. A prompt (or an author tag) is followed by a space-led word as usual: it is not banned there.
"""

from __future__ import annotations

# GPT-2-style byte-level vocabularies write bytes 0..32 as chr(256 + byte) (its bytes_to_unicode
# table), so ASCII whitespace is one of these characters at the start of a token string.
BYTE_LEVEL_WHITESPACE = frozenset(chr(256 + b) for b in b" \t\n\r\x0b\x0c")


def whitespace_led_ids(tokenizer) -> list[int]:
    """Ids of the tokens whose text begins with whitespace (special tokens excluded).

    Byte-level BPE vocabularies (GPT-2, SmolLM2, Llama 3) are read from the token strings (25 ms
    for 49k tokens); any other tokenizer decodes each token (~0.5 s, once per loaded model)."""
    size = len(tokenizer)
    special = set(tokenizer.all_special_ids)
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    if type(decoder).__name__ == "ByteLevel":
        tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
        led = (i for i, t in enumerate(tokens) if t and t[0] in BYTE_LEVEL_WHITESPACE)
    else:
        texts = tokenizer.batch_decode([[i] for i in range(size)])
        led = (i for i, t in enumerate(texts) if t[:1].isspace())
    return [i for i in led if i not in special]
