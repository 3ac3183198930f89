"""Which column of a row plays which role, and a row (a dict) -> ``Post``.

Columns are found by common names (case-insensitive; see the ``*_COLUMNS`` tuples) or
``text_column=``. Without an id column a post gets a stable id from a hash of its text (so
adding posts later does not change old ids). ``is_repost`` = a retweet flag/column OR text
starting with ``RT @``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.sources import clean_handle
from tweettwin.ingest.sources.dates import parse_date

TEXT_COLUMNS = (
    "text",
    "full_text",
    "tweet",
    "tweet_text",
    "content",
    "body",
    "post",
    "message",
    "status",
    "caption",
)
ID_COLUMNS = ("id_str", "id", "tweet_id", "status_id", "post_id", "uuid")
DATE_COLUMNS = (
    "created_at",
    "date",
    "timestamp",
    "time",
    "datetime",
    "published",
    "created",
    "posted_at",
    "created_utc",
)
REPOST_COLUMNS = (
    "is_retweet",
    "retweeted",
    "is_repost",
    "isretweet",
    "isrepost",
    "is_rt",
    "retweet",
    "is_reblog",
    "reblogged",
    "is_boost",
)
REPOST_ID_COLUMNS = ("retweeted_status_id", "retweeted_status_id_str")  # set -> a retweet
REPLY_COLUMNS = ("is_reply", "isreply")
REPLY_ID_COLUMNS = (
    "in_reply_to_status_id",
    "in_reply_to_status_id_str",
    "in_reply_to_user_id",
    "in_reply_to_user_id_str",
    "in_reply_to_screen_name",
    "in_reply_to_id",
)
AUTHOR_COLUMNS = (
    "author",
    "user",
    "screen_name",
    "username",
    "handle",
    "user_screen_name",
    "user_name",
    "account",
)
LANG_COLUMNS = ("lang", "language")
# Audience, as platforms' own dumps name it. An allow-list: with a visibility column, only
# "public" and "unlisted" are trained on (a missing or new value is private, as for fetches).
VISIBILITY_COLUMNS = ("visibility", "privacy", "audience")
PUBLIC_VISIBILITY = frozenset(("public", "unlisted"))
PRIVATE_COLUMNS = ("private", "is_private", "protected", "followers_only", "is_direct")

_TRUE = frozenset(("true", "1", "yes", "y", "t"))
_UNSET = frozenset(("", "0", "null", "none", "nan", "false"))


class Columns:
    """Which key plays which role, found once per distinct set of keys."""

    __slots__ = (
        "text",
        "id",
        "date",
        "repost",
        "repost_ids",
        "reply",
        "reply_ids",
        "author",
        "lang",
        "visibility",
        "private",
    )

    def __init__(self, keys: Iterable[str], text_column: str | None, where: str) -> None:
        lower: dict[str, str] = {}
        for k in keys:
            lower.setdefault(str(k).strip().lower(), k)

        def pick(cands):
            return next((lower[c] for c in cands if c in lower), None)

        if text_column:
            self.text = lower.get(text_column.strip().lower())
            if self.text is None:
                raise InputError(
                    f"{where}: no column {text_column!r} (columns: "
                    f"{_show(lower.values())}); check --text-column"
                )
        else:
            self.text = pick(TEXT_COLUMNS)
            if self.text is None and len(lower) == 1:
                self.text = next(iter(lower.values()))  # a single-column dump
            if self.text is None:
                raise InputError(
                    f"{where}: cannot tell which column holds the post text "
                    f"(columns: {_show(lower.values())}); pass --text-column"
                )
        self.id = pick(ID_COLUMNS)
        self.date = pick(DATE_COLUMNS)
        self.repost = pick(REPOST_COLUMNS)
        self.repost_ids = [lower[c] for c in REPOST_ID_COLUMNS if c in lower]
        self.reply = pick(REPLY_COLUMNS)
        self.reply_ids = [lower[c] for c in REPLY_ID_COLUMNS if c in lower]
        self.author = pick(AUTHOR_COLUMNS)
        self.lang = pick(LANG_COLUMNS)
        self.visibility = pick(VISIBILITY_COLUMNS)
        self.private = pick(PRIVATE_COLUMNS)


def _show(cols: Iterable[str]) -> str:
    cols = [str(c) for c in cols]
    return ", ".join(cols[:12]) + (", ..." if len(cols) > 12 else "") if cols else "none"


def _truthy(v) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in _TRUE
    return bool(v) and v == v  # NaN is not true


def _is_set(v) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, str):
        return v.strip().lower() not in _UNSET
    return v != 0 and v == v


MAX_KEY_SETS = 1024


class Rows:
    """Turns dict rows into Posts for one source, tracking ids and authors."""

    def __init__(self, author: str, authors: dict[str, Author], text_column: str | None) -> None:
        self.author = author
        self.authors = authors
        self.text_column = text_column
        self.cache: dict[tuple, Columns] = {}
        self.seen_hash: dict[str, int] = {}

    def columns(self, keys: tuple, where: str) -> Columns:
        cols = self.cache.get(keys)
        if cols is None:
            if len(self.cache) >= MAX_KEY_SETS:  # rows with ever new keys: memory stays bounded
                self.cache.clear()
            cols = self.cache[keys] = Columns(keys, self.text_column, where)
        return cols

    def post(self, row: dict, cols: Columns, kind: str, where: str = "") -> Post:
        text = _scalar(row.get(cols.text), cols.text, where, "check --text-column")
        text = "" if text is None else text if isinstance(text, str) else str(text)
        rid = _scalar(row.get(cols.id), cols.id, where, "ids must be strings or numbers")
        rid = self.hash_id(text) if rid is None or rid == "" else _id_str(rid)
        repost = text.startswith("RT @") or (
            cols.repost is not None and _truthy(row.get(cols.repost))
        )
        if not repost and cols.repost_ids:
            repost = any(_is_set(row.get(c)) for c in cols.repost_ids)
        reply = cols.reply is not None and _truthy(row.get(cols.reply))
        if not reply and cols.reply_ids:
            reply = any(_is_set(row.get(c)) for c in cols.reply_ids)
        author = self.author_of(row.get(cols.author)) if cols.author else self.author
        lang = row.get(cols.lang) if cols.lang else None
        private = cols.private is not None and _truthy(row.get(cols.private))
        if cols.visibility is not None:
            vis = row.get(cols.visibility)
            private = private or not (
                isinstance(vis, str) and vis.strip().lower() in PUBLIC_VISIBILITY
            )
        return Post(
            id=rid,
            text=text,
            author=author,
            created_at=parse_date(row.get(cols.date)) if cols.date else None,
            source=kind,
            is_repost=repost,
            is_reply=reply,
            private=private,
            lang=lang if isinstance(lang, str) and lang else None,
        )

    def text_post(self, text: str, kind: str) -> Post:
        return Post(
            id=self.hash_id(text),
            text=text,
            author=self.author,
            source=kind,
            is_repost=text.startswith("RT @"),
        )

    def hash_id(self, text: str) -> str:
        """Stable id from the text; repeats of the same text get ``-2``, ``-3`` ..."""
        h = "h" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
        n = self.seen_hash.get(h, 0) + 1
        self.seen_hash[h] = n
        return h if n == 1 else f"{h}-{n}"

    def author_of(self, value) -> str:
        name = ""
        if isinstance(value, dict):
            name = value.get("name")
            name = name if isinstance(name, str) else ""
            value = value.get("screen_name") or value.get("username") or value.get("handle")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            value = None  # a list or an object where a handle should be: no author known
        handle = clean_handle(value)
        if not handle:
            return self.author
        if handle not in self.authors:
            self.authors[handle] = Author(handle=handle, name=name)
        return handle


def _scalar(value, column, where: str, todo: str):
    """A field that must be text (or a number): a list or object would be trained as its Python
    repr (``['a', 'b']``), so it is refused with where it is."""
    if isinstance(value, (list, dict)):
        raise InputError(
            f"{where or 'input'}: field {column!r} holds a JSON "
            f"{'array' if isinstance(value, list) else 'object'}, not text; {todo}"
        )
    return value


def _id_str(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else str(v)
