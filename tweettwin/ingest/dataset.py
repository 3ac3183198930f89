"""Dataset folders: the kept posts as ``train.jsonl`` / ``validation.jsonl`` plus ``manifest.json``.

Writing streams in two passes so that memory stays bounded for a million posts:

1. ``SplitWriter.add`` appends each kept record, already serialized, to a temporary file and
   remembers only its split key (8 bytes) and author index (4 bytes).
2. ``SplitWriter.finish`` decides the split (the validation share depends on how many posts
   were kept) and copies the lines into the two files, hashing them on the way.

The split (documented in the README):

- ``hash`` (default): a post goes to validation when the 64-bit blake2b hash of
  ``author\\0id`` falls below ``fraction * 2**64``. Adding posts later never moves an old post,
  as long as the fraction stays the same. The fraction is the requested one (10%), raised in
  5% steps (up to 50%) when 10% would give fewer than ``min_validation`` posts. The steps are
  nested: a post that is in validation at 10% is in validation at every larger fraction, so
  when a small dataset grows past a step, some validation posts join train and none leave it.
  From ``min_validation / fraction`` posts on (320 by default) the split is fixed for good.
- ``time``: the newest posts (by ``created_at``; ties broken by input order) are held out.

Same inputs and options give byte-identical files: no wall-clock time is written anywhere.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, NamedTuple

from tweettwin.errors import DatasetError
from tweettwin.jsonio import loads

FORMAT = "tweettwin-dataset"
FORMAT_VERSION = 1
TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
MANIFEST_FILE = "manifest.json"
SPLIT_KEY = "blake2b-64(author + NUL + id) < fraction * 2**64"
_MAX_FRACTION = 0.5
_FRACTION_STEP = 0.05
_CHUNK = 1 << 16
_MAX_MANIFEST_BYTES = 16 * 1024**2  # a manifest is a few KB

# JSON string literal (UTF-8 kept, as json.dumps(ensure_ascii=False)), in C.
_quote = json.encoder.encode_basestring


def split_key(author: str, post_id: str) -> int:
    """The post's place in the hash split: a 64-bit integer that depends only on author and id."""
    digest = hashlib.blake2b(f"{author}\0{post_id}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


def effective_fraction(kept: int, fraction: float = 0.1, min_validation: int = 32) -> float:
    """The validation share for ``kept`` posts: ``fraction``, raised in 5% steps for small data."""
    if kept <= 0 or kept * fraction >= min_validation:
        return fraction
    wanted = min(_MAX_FRACTION, min_validation / kept)
    stepped = math.ceil(round(wanted / _FRACTION_STEP, 9)) * _FRACTION_STEP
    return round(max(fraction, min(_MAX_FRACTION, stepped)), 6)


def _timestamp(created_at: str | None, post_id: str, author: str) -> int:
    if not created_at:
        raise DatasetError(
            f"--split time needs a date on every post, but post {post_id!r} of @{author} has none: "
            "use --split hash"
        )
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        raise DatasetError(
            f"post {post_id!r} of @{author} has an unreadable date {created_at!r}: use --split hash"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


@dataclass
class FileInfo:
    sha256: str
    bytes: int
    posts: int

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "bytes": self.bytes, "posts": self.posts}


@dataclass
class SplitResult:
    fraction: float  # the effective validation share (hash split)
    train: FileInfo
    validation: FileInfo
    content_hash: str  # "sha256:<hex>" of train.jsonl's bytes followed by validation.jsonl's
    per_author: dict[str, tuple[int, int]]  # handle -> (train, validation)


class SplitWriter:
    """Pass 1 (``add``) spools kept records to ``spool``; pass 2 (``finish``) splits them."""

    def __init__(self, spool: Path, method: str = "hash") -> None:
        self.method = method
        self.spool_path = Path(spool)
        self._spool: IO[str] | None = open(self.spool_path, "w", encoding="utf-8", errors="replace")
        self._keys = array("Q" if method == "hash" else "q")
        self._author_ix = array("I")
        self._authors: dict[str, int] = {}
        self._quoted: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def add(
        self, text: str, post_id: str, author: str, created_at: str | None, source: str
    ) -> None:
        ix = self._authors.get(author)
        if ix is None:
            ix = self._authors[author] = len(self._authors)
        if self.method == "hash":
            self._keys.append(split_key(author, post_id))
        else:
            self._keys.append(_timestamp(created_at, post_id, author))
        self._author_ix.append(ix)
        # The line is json.dumps of the record with compact separators, built by hand: 2x faster.
        quoted = self._quoted
        a = quoted.get(author) or quoted.setdefault(author, _quote(author))
        s = quoted.get(source) or quoted.setdefault(source, _quote(source or ""))
        when = "null" if created_at is None else _quote(created_at)
        self._spool.write(
            f'{{"text":{_quote(text)},"id":{_quote(str(post_id))},"author":{a},'
            f'"created_at":{when},"source":{s}}}\n'
        )

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def _validation_mask(self, fraction: float, min_validation: int) -> tuple[float, callable]:
        """The effective fraction and a predicate ``is_validation(index)``."""
        n = len(self._keys)
        fraction = effective_fraction(n, fraction, min_validation)
        keys = self._keys
        if self.method == "hash":
            limit = int(fraction * 2**64)
            if n >= 2 and not any(k < limit for k in keys):  # tiny data: hold out at least one
                limit = min(keys) + 1
            return fraction, lambda i: keys[i] < limit
        # time: the newest round(fraction * n) posts; among equal times, the later in input order
        want = max(1, round(fraction * n)) if n >= 2 else 0
        if want == 0:
            return fraction, lambda i: False
        ordered = sorted(keys)
        cut = ordered[n - want]
        above = n - bisect.bisect_right(ordered, cut)
        ties = bisect.bisect_right(ordered, cut) - bisect.bisect_left(ordered, cut)
        skip_ties = ties - (want - above)  # leading ties in input order that stay in train
        del ordered
        state = {"ties_seen": 0}

        def is_validation(i: int) -> bool:
            k = keys[i]
            if k > cut:
                return True
            if k < cut:
                return False
            state["ties_seen"] += 1
            return state["ties_seen"] > skip_ties

        return fraction, is_validation

    def finish(
        self, folder: Path, fraction: float = 0.1, min_validation: int = 32, progress=None
    ) -> SplitResult:
        """Write ``train.jsonl`` and ``validation.jsonl`` into ``folder``; counts and hashes."""
        self.close()
        fraction, is_validation = self._validation_mask(fraction, min_validation)
        names = list(self._authors)
        counts = [[0, 0] for _ in names]
        outs = [_HashedOut(folder / TRAIN_FILE), _HashedOut(folder / VALIDATION_FILE)]
        try:
            with open(self.spool_path, "rb") as spool:
                for i, line in enumerate(spool):
                    side = 1 if is_validation(i) else 0
                    outs[side].write(line)
                    counts[self._author_ix[i]][side] += 1
                    if progress and not i & 0xFFFF:
                        progress("write", i)
        finally:
            for out in outs:
                out.close()
        train, validation = (out.info() for out in outs)
        combined = outs[0].hasher.copy()
        with open(folder / VALIDATION_FILE, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                combined.update(chunk)
        return SplitResult(
            fraction=fraction,
            train=train,
            validation=validation,
            content_hash=f"sha256:{combined.hexdigest()}",
            per_author={name: (c[0], c[1]) for name, c in zip(names, counts, strict=True)},
        )


class _HashedOut:
    """A binary output file that hashes what it writes, in 64 KiB chunks."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "wb")
        self.hasher = hashlib.sha256()
        self.buf: list[bytes] = []
        self.size = 0
        self.pending = 0
        self.lines = 0

    def write(self, line: bytes) -> None:
        self.buf.append(line)
        self.pending += len(line)
        self.lines += 1
        if self.pending >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            data = b"".join(self.buf)
            self.fh.write(data)
            self.hasher.update(data)
            self.size += len(data)
            self.buf.clear()
            self.pending = 0

    def close(self) -> None:
        if not self.fh.closed:
            self.flush()
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()

    def info(self) -> FileInfo:
        return FileInfo(self.hasher.hexdigest(), self.size, self.lines)


def file_sha256(path: str | os.PathLike) -> tuple[str, int]:
    """sha256 hex digest and size of a file, read in 1 MiB chunks."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def content_hash(folder: str | os.PathLike) -> str:
    """``sha256:<hex>`` over train.jsonl's bytes followed by validation.jsonl's bytes."""
    hasher = hashlib.sha256()
    for name in (TRAIN_FILE, VALIDATION_FILE):
        with open(Path(folder) / name, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}"


def write_manifest(folder: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (Path(folder) / MANIFEST_FILE).write_text(text, encoding="utf-8")


def is_dataset_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` holds a manifest of a tweettwin dataset (safe to replace)."""
    file = Path(path) / MANIFEST_FILE
    try:
        if file.stat().st_size > _MAX_MANIFEST_BYTES:
            return False
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


class LoadedDataset(NamedTuple):
    manifest: dict
    train: list[dict]
    validation: list[dict]


def iter_records(path: str | os.PathLike) -> Iterator[dict]:
    """The records of one jsonl file of a dataset, checked (file and line in every error)."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(
            f"{path} is missing: re-run `tweettwin prepare` for this dataset"
        ) from None
    with fh:
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except RecursionError:
                    raise DatasetError(
                        f"{path}, line {lineno}: JSON nested too deeply: re-run `tweettwin prepare`"
                    ) from None
                except ValueError as ex:
                    raise DatasetError(
                        f"{path}, line {lineno}, column {getattr(ex, 'colno', '?')}: "
                        "not valid JSON "
                        f"({getattr(ex, 'msg', ex)}): re-run `tweettwin prepare`"
                    ) from None
                if (
                    not isinstance(record, dict)
                    or not isinstance(record.get("text"), str)
                    or not record["text"]
                ):
                    raise DatasetError(
                        f"{path}, line {lineno}: each line must be an object "
                        'with a non-empty "text" string'
                    )
                yield record
        except UnicodeDecodeError as ex:
            raise DatasetError(f"{path}: not UTF-8 text ({ex.reason} at byte {ex.start})") from None


def read_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a dataset folder, with its format and version checked."""
    folder = Path(folder)
    hint = f"create it with `tweettwin prepare SOURCE -o {folder}`"
    if not folder.exists():
        raise DatasetError(f"no dataset at {folder}: {hint}")
    if not folder.is_dir():
        raise DatasetError(f"{folder} is a file, not a dataset folder: {hint}")
    path = folder / MANIFEST_FILE
    try:
        if path.stat().st_size > _MAX_MANIFEST_BYTES:
            raise DatasetError(f"{path} is too large to be a dataset manifest: {hint}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(
            f"{folder} is not a tweettwin dataset (no {MANIFEST_FILE}): {hint}"
        ) from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not UTF-8 text: re-run `tweettwin prepare`") from None
    except OSError as ex:
        raise DatasetError(f"{path}: cannot be read ({ex.strerror}): {hint}") from None
    manifest = loads(text, str(path), "re-run `tweettwin prepare`", error=DatasetError)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(
            f"{path} is not a tweettwin dataset manifest (format is not {FORMAT!r}): {hint}"
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise DatasetError(
            f"{path} has an invalid format_version {version!r}: re-run `tweettwin prepare`"
        )
    if version > FORMAT_VERSION:
        raise DatasetError(
            f"{folder} uses dataset format {version}, "
            f"newer than this tweettwin reads ({FORMAT_VERSION}): "
            "upgrade tweettwin or re-run `tweettwin prepare`"
        )
    return manifest


def load_dataset_dir(path: str | os.PathLike, verify: bool = True) -> LoadedDataset:
    """Read a dataset folder for training: ``(manifest, train_records, validation_records)``.

    Raises ``DatasetError`` (one line, naming the folder and what to do) for a missing folder or
    file, a newer format, bad JSON lines, an empty training split, or (``verify``) files that
    changed since ``prepare`` wrote them.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    train = list(iter_records(folder / TRAIN_FILE))
    validation = list(iter_records(folder / VALIDATION_FILE))
    if not train:
        raise DatasetError(
            f"{folder / TRAIN_FILE} has no posts: re-run `tweettwin prepare` with more posts"
        )
    if verify and manifest.get("content_hash") and content_hash(folder) != manifest["content_hash"]:
        raise DatasetError(
            f"{folder}: train/validation files changed since `tweettwin prepare` wrote them "
            "(content hash mismatch): re-run prepare"
        )
    return LoadedDataset(manifest, train, validation)
