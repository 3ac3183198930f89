"""The one record every importer yields, and the author it belongs to."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(slots=True)
class Author:
    handle: str  # without the leading @
    name: str = ""  # display name, when the source has one
    avatar: str | None = None  # path (inside the archive or on disk) of a profile picture


@dataclass(slots=True)
class Post:
    """A post as imported, before cleaning.

    ``text`` is the platform text with HTML already turned into plain text for HTML sources
    (Mastodon) but entities possibly still escaped (X archives escape ``&amp;``): cleaning
    decodes entities, so importers need not.
    """

    id: str
    text: str
    author: str
    created_at: str | None = None  # ISO 8601, UTC, e.g. 2023-02-18T12:33:11Z
    source: str = ""  # input kind, e.g. "x-archive", "mastodon-archive", "csv"
    is_repost: bool = False  # retweet / boost, by the platform's flag
    is_reply: bool = False
    private: bool = False  # followers-only / direct: never trained on
    lang: str | None = None
    urls: list[str] = field(default_factory=list)  # t.co (or other) link texts to strip

    def to_dict(self) -> dict:
        return asdict(self)
