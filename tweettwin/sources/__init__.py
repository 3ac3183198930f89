"""Every supported input becomes a ``SourceData``: who wrote it, which files it came from, and a
stream of ``Post`` records. ``open_source`` sniffs the format of a SOURCE argument.

Readers stream: ``posts`` is an iterator, so a 1M-post input never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tweettwin.posts import Author, Post


@dataclass
class SourceData:
    spec: str  # the SOURCE as the user gave it
    kind: str  # "x-archive", "mastodon-archive", "csv", "json", "jsonl", "text", "fetched", ...
    files: list[Path]  # every input file read (hashed into the dataset manifest)
    posts: Iterator[Post]
    authors: dict[str, Author] = field(default_factory=dict)  # handle -> Author, when known
