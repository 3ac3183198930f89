"""Tabular dumps -> Posts: CSV/TSV, JSON array, JSONL/NDJSON, plain text, and folders of them.

This module finds the files and makes them one source; ``file_readers`` reads each format,
``columns`` maps a row's keys to a ``Post`` and ``dates`` normalises dates (ISO 8601 UTC).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.sources import SourceData, clean_handle

# Names that lived here before the split stay importable from here.
from tweettwin.ingest.sources.columns import (  # noqa: F401
    AUTHOR_COLUMNS,
    DATE_COLUMNS,
    ID_COLUMNS,
    LANG_COLUMNS,
    PRIVATE_COLUMNS,
    PUBLIC_VISIBILITY,
    REPLY_COLUMNS,
    REPLY_ID_COLUMNS,
    REPOST_COLUMNS,
    REPOST_ID_COLUMNS,
    TEXT_COLUMNS,
    VISIBILITY_COLUMNS,
    Columns,
    Rows,
)
from tweettwin.ingest.sources.dates import parse_date, twitter_date_iso  # noqa: F401
from tweettwin.ingest.sources.file_readers import (  # noqa: F401
    JSON_WRAPPERS,
    MAX_LINE_BYTES,
    READERS,
)
from tweettwin.ingest.sources.limits import CHUNK
from tweettwin.ingest.sources.safezip import folder_files

KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
}
SUPPORTED = ", ".join(KINDS)


def tabular_files(path: Path) -> list[Path]:
    """Supported files in a folder (recursive, sorted, hidden ones skipped).

    Folders tweettwin wrote are skipped: a dataset (its train.jsonl would be read back as
    posts) and a fetch folder (its posts.jsonl holds platform objects whose visibility only
    the fetched reader honours: read as a table, followers-only posts would be trained on).
    """
    return [p for p in folder_files(path, _tweettwin_folder) if p.suffix.lower() in KINDS]


def _tweettwin_folder(folder: Path) -> bool:
    return _folder_format(folder) in ("tweettwin-dataset", "tweettwin-fetch")


def _folder_format(folder: Path) -> str | None:
    manifest = folder / "manifest.json"
    try:
        if not manifest.is_file() or manifest.stat().st_size > 16 * CHUNK:
            return None
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data.get("format") if isinstance(data, dict) else None


def read_tabular(
    path: str | Path,
    *,
    author: str | None = None,
    text_column: str | None = None,
    spec: str | None = None,
) -> SourceData:
    """A CSV/TSV/JSON/JSONL/NDJSON/TXT file, or a folder of them read as one source.

    author: default author handle (else the file/folder stem); a detected author column wins
    per row. ``authors`` fills up while ``posts`` is consumed when rows name their authors.
    """
    path = Path(path)
    if path.is_dir() and _folder_format(path) == "tweettwin-dataset":
        raise InputError(
            f"{path}: is a tweettwin dataset already; train on it (tweettwin train {path}), "
            "or give the SOURCEs it was made from"
        )
    if path.is_dir():
        files = tabular_files(path)
        if not files:
            raise InputError(
                f"{path}: folder holds no supported files ({SUPPORTED}), "
                "no X archive (data/tweets.js) and no Mastodon outbox.json"
            )
        default = path.name
    else:
        if path.suffix.lower() not in KINDS:
            raise InputError(f"{path}: unsupported file type; use one of {SUPPORTED}")
        files = [path]
        default = path.stem
    handle = clean_handle(author or default) or "posts"
    authors = {handle: Author(handle=handle)}
    rows = Rows(handle, authors, text_column)
    kinds = {KINDS[f.suffix.lower()] for f in files}
    return SourceData(
        spec=spec or str(path),
        kind=kinds.pop() if len(kinds) == 1 else "files",
        files=files,
        posts=_posts(files, rows),
        authors=authors,
    )


def _posts(files: list[Path], rows: Rows) -> Iterator[Post]:
    for f in files:
        yield from READERS[KINDS[f.suffix.lower()]](f, rows)
