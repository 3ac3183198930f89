"""The tokenizer as GGUF metadata (``tokenizer.ggml.*``): byte-level BPE vocabulary, merges,
token types, and the name of the pre-tokenizer llama.cpp should split text with.

When the vocabulary is the embedded base model's (SmolLM2), its own GGUF file's tokenizer
metadata is reused as is (token types, merges, pre-tokenizer), rather than derived again.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import gguf

from tweettwin.errors import ModelError

# tokenizer.json pre_tokenizer shapes -> llama.cpp pre-tokenizer names (llama-vocab.cpp)
SUPPORTED_PRE = "plain byte-level BPE (gpt-2) or SmolLM's digits + byte-level (smollm)"


@dataclass
class Vocab:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    pre: str
    source: str  # "embedded" when reused from the embedded GGUF, else "tokenizer.json"


def _pre_name(pre: dict | None) -> str | None:
    """llama.cpp's name for a tokenizer.json pre-tokenizer, or None when it has none."""
    if not pre:
        return None
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if steps and [s.get("type") for s in steps] == ["Digits", "ByteLevel"]:
        if steps[0].get("individual_digits") and steps[1].get("use_regex", True):
            return "smollm"
    return None


def _merges(model: dict) -> list[str]:
    return [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]


def vocab_from_tokenizer(tokenizer, folder: Path, vocab_size: int) -> Vocab:
    """Derive the GGUF vocabulary from a fast tokenizer and its ``tokenizer.json``."""
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE" or (data.get("decoder") or {}).get("type") != "ByteLevel":
        raise ModelError(
            f"{folder}: the tokenizer is not byte-level BPE; GGUF export supports {SUPPORTED_PRE}"
        )
    pre = _pre_name(data.get("pre_tokenizer"))
    if pre is None:
        raise ModelError(
            f"{folder}: pre-tokenizer {json.dumps(data.get('pre_tokenizer'))[:80]} is not "
            f"supported; GGUF export supports {SUPPORTED_PRE}"
        )
    if len(tokenizer) > vocab_size:
        raise ModelError(f"{folder}: tokenizer has {len(tokenizer)} tokens, model {vocab_size}")
    added = {t["id"]: t for t in data.get("added_tokens", [])}
    tokens, types = [], []
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    for i in range(vocab_size):
        piece = pieces[i] if i < len(pieces) else None
        if piece is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(added[i]["content"])
            special = added[i].get("special", False)
            types.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(piece)
            types.append(gguf.TokenType.NORMAL)
    return Vocab(tokens, [int(t) for t in types], _merges(model), pre, "tokenizer.json")


def embedded_vocab() -> Vocab | None:
    """The embedded base model's tokenizer metadata, read from its GGUF (None if not installed)."""
    from tweettwin.ml.embedded import gguf_path

    with contextlib.suppress(ModelError, OSError, KeyError, ValueError):
        reader = gguf.GGUFReader(gguf_path())
        field = reader.fields
        return Vocab(
            tokens=list(field["tokenizer.ggml.tokens"].contents()),
            types=[int(t) for t in field["tokenizer.ggml.token_type"].contents()],
            merges=list(field["tokenizer.ggml.merges"].contents()),
            pre=str(field["tokenizer.ggml.pre"].contents()),
            source="embedded",
        )
    return None


def gguf_vocab(tokenizer, folder: Path, vocab_size: int) -> Vocab:
    """The vocabulary to write: the embedded GGUF's when the tokens are the same, else derived."""
    derived = vocab_from_tokenizer(tokenizer, folder, vocab_size)
    embedded = embedded_vocab()
    if embedded is not None and embedded.tokens == derived.tokens:
        return embedded
    return derived
