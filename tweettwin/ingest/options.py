"""Typed options with their defaults, help text and validation in one place.

The CLI builds its flags' help from ``metadata["help"]``; the manifest records ``asdict(options)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from tweettwin.errors import ConfigError

SPLIT_METHODS = ("hash", "time")


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class PrepareOptions:
    """How ``prepare`` cleans posts and splits them. Every cleaning rule is on by default."""

    decode_entities: bool = _opt(
        True, "Decode HTML entities (&amp; -> &) and normalize Unicode to NFC."
    )
    drop_reposts: bool = _opt(True, "Drop retweets/boosts (platform flag or text starting 'RT @').")
    drop_replies: bool = _opt(False, "Drop replies instead of keeping them.")
    strip_reply_mentions: bool = _opt(
        True, "Strip the leading run of @mentions that the platform puts in front of a reply."
    )
    remove_links: bool = _opt(True, "Remove links (t.co, http/https URLs, pic.twitter.com).")
    keep_newlines: bool = _opt(
        False,
        "Keep single line breaks (runs collapse to one); by default all whitespace is one space.",
    )
    min_words: int = _opt(
        3,
        "Drop posts with fewer words than this (links, @mentions and #hashtags do not count); "
        "0 keeps all.",
    )
    drop_duplicates: bool = _opt(
        True, "Drop exact duplicates of an earlier post (after cleaning), per author."
    )
    split: str = _opt(
        "hash",
        "Validation split: 'hash' (by post id; stable when posts are added) "
        "or 'time' (newest posts).",
    )
    validation_fraction: float = _opt(0.1, "Share of kept posts held out for validation.")
    min_validation: int = _opt(
        32,
        "Raise the validation share for small datasets so it holds about this many posts "
        "(at most half).",
    )
    min_chars: int = _opt(
        6000, "Fail when fewer characters than this are kept: too little text to train on."
    )
    warn_chars: int = _opt(40000, "Warn when fewer characters than this are kept.")

    def __post_init__(self) -> None:
        if self.split not in SPLIT_METHODS:
            raise ConfigError(
                f"split must be one of {', '.join(SPLIT_METHODS)}, not {self.split!r}"
            )
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(
                f"validation_fraction must be between 0 and 1 (exclusive), "
                f"not {self.validation_fraction}"
            )
        for name in ("min_words", "min_validation", "min_chars", "warn_chars"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more, not {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def help(cls, name: str) -> str:
        return next(f.metadata["help"] for f in fields(cls) if f.name == name)
