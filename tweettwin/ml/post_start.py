"""How an unprompted post starts: never with whitespace, and as often with each word as the
person's own posts do.

Prepared posts are stripped, so in training the token after a separator never begins with a
space or a newline; a sample that starts with one (`` is``, `` and``) reads as a fragment cut from
the middle of a sentence. A fine-tuned model still puts a few percent of its first-token mass on
such tokens (9% for andreruffert's default model), so unprompted sampling bans them at the first
step. A prompt (or an author tag) is followed by a space-led word as usual: it is not banned there.

The first token decides what kind of post follows (a quote, a mention, a thank-you, a lowercase
aside), and a fine-tuned model misjudges that mix: trump-2016's default model started 30% of its
posts with ``"`` (quoted fan replies, ``"@user: ...``) where 16% of the training posts start so,
and 45% of its posts mentioned an account against 32% of the training posts. So
``post_starts.json`` keeps how many training posts start with each token (ids and counts, no
text), and an unprompted post of a tweettwin model draws its first token from those counts; the
model writes the rest. In training every post follows a shuffled, unrelated one, so the counts
are the right distribution for a post in a run as much as for a lone one. On that model it
brought the mention rate to 34% and, over five sampling seeds (bench/quality.py, README
*Evaluating*), the kernel distance to the held-out posts from 6.50e-3 to 2.45e-3 and the
classifier AUC from 0.681 to 0.617.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch

from tweettwin.atomic import write_text
from tweettwin.jsonio import read_model_table

FILE = "post_starts.json"
FORMAT = "tweettwin-post-starts"
VERSION = 1

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


def write_post_starts(model_dir: str | Path, token_ids: Iterable[list[int]]) -> Path:
    """Write how many of the posts (token ids, one list per post) start with each token."""
    counts = Counter(post[0] for post in token_ids if post)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "posts": sum(counts.values()),
        "starts": sorted([int(t), n] for t, n in counts.items()),
    }
    path = Path(model_dir) / FILE
    write_text(path, json.dumps(meta, separators=(",", ":")) + "\n")
    return path


def read_post_starts(model_dir: str | Path, vocab_size: int) -> dict[int, int] | None:
    """The folder's start counts {token id: posts}, or None when it has none (a folder trained
    before them, with author tags, or any other model folder)."""

    def valid(pairs) -> bool:
        return isinstance(pairs, list) and bool(pairs) and all(
            isinstance(p, list) and len(p) == 2 and type(p[0]) is int and type(p[1]) is int
            and 0 <= p[0] < vocab_size and p[1] > 0
            for p in pairs
        )  # fmt: skip

    pairs = read_model_table(
        Path(model_dir) / FILE, FORMAT, VERSION, "starts", valid,
        f"not a tweettwin table of post starts for this model (token ids in "
        f"0..{vocab_size - 1} with post counts); delete it to let the model pick first tokens "
        "itself, or train again",
    )  # fmt: skip
    return None if pairs is None else {t: n for t, n in pairs}


def start_logprobs(counts: dict[int, int], size: int) -> torch.Tensor:
    """[size] log probabilities of starting a post with each token id (-inf: never)."""
    ids = sorted(counts)
    probs = torch.zeros(size, dtype=torch.float32)
    probs[torch.tensor(ids)] = torch.tensor([counts[i] for i in ids], dtype=torch.float32)
    return (probs / probs.sum()).log()
