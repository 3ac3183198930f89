"""The posts' vocabulary: which token ids the training posts use, kept in the model folder.

tweettwin samples each token among these (plus the stop tokens) unless a request asks for the
whole vocabulary (``full_vocab``). A post the person wrote is spelt with their own word pieces;
the other ~90% of a 49k vocabulary (code, other scripts, rare words) is where a small model's
tail samples went off-voice. Measured on three archives, two seeds each (README, *Generating*):
Fréchet distance lower in all six runs, classifier AUC within its seed spread (lower on two
archives, higher on the bilingual one), a little less variety. The LM head then covers ~4k rows
instead of 49k: ~19% fewer weights read and multiplied per decode step, 1.23x faster sampling.

``post_vocab.json``: ``{"format": "tweettwin-post-vocab", "version": 1, "count": n,
"tokens": [ids]}``, sorted ids only, no text. Like the weights, it tells which word pieces the
posts used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tweettwin.atomic import write_text
from tweettwin.jsonio import read_model_table

FILE = "post_vocab.json"
FORMAT = "tweettwin-post-vocab"
VERSION = 1


def write_post_vocab(model_dir: str | Path, token_ids: Iterable[Iterable[int]]) -> Path:
    """Write the sorted set of ids in ``token_ids`` (one list per training post)."""
    used = sorted({int(t) for post in token_ids for t in post})
    path = Path(model_dir) / FILE
    meta = {"format": FORMAT, "version": VERSION, "count": len(used), "tokens": used}
    write_text(path, json.dumps(meta, separators=(",", ":")) + "\n")
    return path


def read_post_vocab(model_dir: str | Path, vocab_size: int) -> list[int] | None:
    """The folder's posts' vocabulary, or None when it has none (any other model folder)."""

    def valid(tokens) -> bool:
        return (
            isinstance(tokens, list)
            and bool(tokens)
            and all(isinstance(t, int) and 0 <= t < vocab_size for t in tokens)
        )

    return read_model_table(
        Path(model_dir) / FILE, FORMAT, VERSION, "tokens", valid,
        f"not a tweettwin post vocabulary for this model (token ids in 0..{vocab_size - 1}); "
        "delete it to sample from the whole vocabulary, or train again",
    )  # fmt: skip
