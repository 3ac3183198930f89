"""The novelty guard: tell whether a generated post copies a training post.

The index travels in the model folder as *hashed* word n-grams, never as the posts themselves:
``novelty.json`` (small meta) + ``novelty.bin`` (sorted, unique little-endian uint64 hashes).

A sample counts as a copy when
- its whole normalised text equals a training post's (verbatim copy, up to case/punctuation), or
- it shares any run of ``n`` consecutive words with a training post (near copy).
Samples shorter than ``n`` words can only match by the whole-post hash.

Pure Python (no torch): the web app and tests can use it without the ML stack.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from array import array
from collections.abc import Iterable
from pathlib import Path

from tweettwin.atomic import atomic_file
from tweettwin.errors import ModelError

META_FILE = "novelty.json"
DATA_FILE = "novelty.bin"
FORMAT = "tweettwin-novelty"
VERSION = 1
DEFAULT_N = 8
HASH = "blake2b-64"

_WORD = re.compile(r"\w+")
_LINK = re.compile(r"https?://\S+|www\.\S+")
# Domain prefixes keep whole-post and n-gram hashes from colliding by construction.
_POST, _GRAM = b"p\x00", b"g\x00"


def words(text: str) -> list[str]:
    """Normalised words: NFKC, lowercase, links dropped, punctuation/emoji ignored."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _WORD.findall(_LINK.sub(" ", text))


def _h(prefix: bytes, payload: str) -> int:
    digest = hashlib.blake2b(prefix + payload.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _post_key(text: str, ws: list[str]) -> str:
    # Posts with no words at all (emoji only) fall back to their whitespace-collapsed text.
    return " ".join(ws) if ws else " ".join(text.split())


def hashes(text: str, n: int = DEFAULT_N) -> set[int]:
    """Every hash one text contributes: its whole-post hash and its word n-gram hashes."""
    ws = words(text)
    out = {_h(_POST, _post_key(text, ws))}
    out.update(_h(_GRAM, " ".join(ws[i : i + n])) for i in range(len(ws) - n + 1))
    return out


def write_index(model_dir: str | Path, texts: Iterable[str], n: int = DEFAULT_N) -> Path:
    """Write the guard's index of ``texts`` (the training posts) into ``model_dir``.

    Deterministic: the same posts give byte-identical files. Returns the meta file's path.
    """
    model_dir = Path(model_dir)
    found: set[int] = set()
    posts = 0
    for text in texts:
        if text and text.strip():
            found |= hashes(text, n)
            posts += 1
    data = array("Q", sorted(found))
    if sys.byteorder != "little":
        data.byteswap()
    with atomic_file(model_dir / DATA_FILE, "wb") as fh:
        fh.write(data.tobytes())
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "n": n,
        "hash": HASH,
        "count": len(data),
        "posts": posts,
        "file": DATA_FILE,
    }
    path = model_dir / META_FILE
    with atomic_file(path) as fh:
        fh.write(json.dumps(meta, indent=2) + "\n")
    return path


class NoveltyIndex:
    """Membership test against a model folder's hashed n-grams."""

    def __init__(self, hashes_: Iterable[int], n: int = DEFAULT_N) -> None:
        self.n = n
        self._hashes = frozenset(hashes_)

    def __len__(self) -> int:
        return len(self._hashes)

    @classmethod
    def from_texts(cls, texts: Iterable[str], n: int = DEFAULT_N) -> NoveltyIndex:
        found: set[int] = set()
        for text in texts:
            if text and text.strip():
                found |= hashes(text, n)
        return cls(found, n)

    @classmethod
    def load(cls, model_dir: str | Path) -> NoveltyIndex:
        model_dir = Path(model_dir)
        meta_path = model_dir / META_FILE
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(
                f"{meta_path}: no novelty index in this model folder; retrain it with tweettwin "
                "or turn the guard off (--no-novelty-guard)"
            ) from None
        except (OSError, ValueError) as ex:
            raise ModelError(
                f"{meta_path}: unreadable novelty index ({ex}); retrain the model"
            ) from None
        if (
            meta.get("format") != FORMAT
            or meta.get("version") != VERSION
            or meta.get("hash") != HASH
        ):
            raise ModelError(
                f"{meta_path}: unsupported novelty index (format {meta.get('format')!r} version "
                f"{meta.get('version')!r}); upgrade tweettwin or retrain the model"
            )
        data = array("Q")
        blob = (model_dir / meta.get("file", DATA_FILE)).read_bytes()
        if len(blob) % 8 or len(blob) // 8 != meta.get("count"):
            raise ModelError(f"{model_dir / DATA_FILE}: truncated novelty index; retrain the model")
        data.frombytes(blob)
        if sys.byteorder != "little":
            data.byteswap()
        return cls(data, int(meta["n"]))

    def is_copy(self, text: str) -> bool:
        """True when ``text`` repeats a training post verbatim or shares an n-word run with one."""
        return not self._hashes.isdisjoint(hashes(text, self.n))
