"""Run ids and content hashes: what the registry uses to link runs to files and folders."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Any

from tweettwin.model_folder import read_json_object, weights_hash

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_run_id(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, so ids sort by time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def sha256_file(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of a file's bytes (streamed, so large weights need little memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def model_hash(model_dir: str | os.PathLike) -> str:
    """A model folder's weights hash (:func:`tweettwin.model_folder.weights_hash`)."""
    return weights_hash(model_dir)


def as_sha(value: Any) -> str:
    value = str(value or "")
    return value if value.startswith("sha256:") else f"sha256:{value}"


def artifact_hash(p: Path, kind: str) -> str | None:
    """The hash an artifact is recorded with: file bytes, model weights or dataset content."""
    if p.is_file():
        return sha256_file(p)
    if kind == "model" and p.is_dir():
        return model_hash(p)
    if kind == "dataset" and (p / "manifest.json").is_file():
        return read_json_object(p / "manifest.json").get("content_hash")
    return None
