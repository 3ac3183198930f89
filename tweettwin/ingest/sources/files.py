"""Tabular dumps -> Posts: CSV/TSV, JSON array, JSONL/NDJSON, plain text, and folders of them.

Columns are found by common names (case-insensitive; see the ``*_COLUMNS`` tuples) or
``text_column=``. CSV, JSONL and text stream line by line; a JSON array streams element by
element. Without an id column a post gets a stable id from a hash of its text (so adding
posts later does not change old ids). Dates become ISO 8601 UTC (``YYYY-MM-DDTHH:MM:SSZ``).
``is_repost`` = a retweet flag/column OR text starting with ``RT @``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.sources import SourceData, clean_handle
from tweettwin.ingest.sources.safezip import (
    CHUNK,
    MAX_ELEMENT_CHARS,
    bad_utf8,
    decode_chunks,
    folder_files,
    iter_json_array,
    loads,
    read_whole,
)

KINDS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
}
SUPPORTED = ", ".join(KINDS)

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
JSON_WRAPPERS = ("tweets", "posts", "data", "items", "statuses", "records", "results")

_TRUE = frozenset(("true", "1", "yes", "y", "t"))
_UNSET = frozenset(("", "0", "null", "none", "nan", "false"))

# --- dates ------------------------------------------------------------------------------------

_MON = {
    m: f"{i:02d}"
    for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}
_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",
    "%Y-%m-%d %H:%M:%S %z",
    "%m-%d-%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d %b %Y %H:%M:%S",
)


def twitter_date_iso(value: str) -> str | None:
    """``Wed Mar 18 21:48:42 +0000 2020`` -> ``2020-03-18T21:48:42Z`` fast; else parse_date."""
    p = value.split(" ")
    if len(p) == 6 and p[4] == "+0000" and p[1] in _MON and len(p[2]) == 2:
        return _checked(f"{p[5]}-{_MON[p[1]]}-{p[2]}T{p[3]}Z")
    return parse_date(value)


def _checked(iso: str) -> str | None:
    """The fast paths build the string by hand: a real date, or None (Feb 30, 25:61 ...)."""
    if len(iso) != 20:
        return None
    try:
        datetime.fromisoformat(iso[:-1])
    except ValueError:
        return None
    return iso


def _iso(d: datetime) -> str:
    if d.tzinfo is not None:
        d = d.astimezone(timezone.utc)  # OverflowError past year 9999 or before year 1
    # Not strftime: glibc writes year 763 as "763", which is no ISO 8601 date.
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}Z"


def parse_date(value) -> str | None:
    """Common date forms -> ISO 8601 UTC; naive times are taken as UTC; None when unknown.

    Twitter's ``Wed Mar 18 21:48:42 +0000 2020``, ISO 8601 (``Z``/offsets/fractions),
    ``2019-07-01 15:54:18 +0000``, ``MM-DD-YYYY HH:MM:SS``, epoch seconds or milliseconds.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _epoch(value)
    s = str(value).strip()
    if not s:
        return None
    if s.replace(".", "", 1).isdigit():
        return _epoch(float(s))
    if len(s) == 30 and s[3] == " ":
        p = s.split(" ")
        if len(p) == 6 and p[4] == "+0000" and p[1] in _MON:
            return _checked(f"{p[5]}-{_MON[p[1]]}-{p[2]}T{p[3]}Z")
    iso = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
    try:
        return _iso(datetime.fromisoformat(iso))
    except (ValueError, OverflowError):  # a date at the edge of the range is no known date
        pass
    for fmt in _FORMATS:
        try:
            return _iso(datetime.strptime(s, fmt))
        except (ValueError, OverflowError):
            continue
    return None


def _epoch(v: float) -> str | None:
    if v != v:  # NaN
        return None
    if v > 1e11:  # milliseconds
        v /= 1000
    try:
        return _iso(datetime.fromtimestamp(v, timezone.utc))
    except (OverflowError, OSError, ValueError):
        return None


# --- column mapping ---------------------------------------------------------------------------


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


_MAX_KEY_SETS = 1024


class _Rows:
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
            if len(self.cache) >= _MAX_KEY_SETS:  # rows with ever new keys: memory stays bounded
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


# --- readers ----------------------------------------------------------------------------------


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
    rows = _Rows(handle, authors, text_column)
    kinds = {KINDS[f.suffix.lower()] for f in files}
    return SourceData(
        spec=spec or str(path),
        kind=kinds.pop() if len(kinds) == 1 else "files",
        files=files,
        posts=_posts(files, rows),
        authors=authors,
    )


def _posts(files: list[Path], rows: _Rows) -> Iterator[Post]:
    readers = {"csv": _csv, "json": _json, "jsonl": _jsonl, "text": _text}
    for f in files:
        yield from readers[KINDS[f.suffix.lower()]](f, rows)


MAX_LINE_BYTES = 4 * MAX_ELEMENT_CHARS  # one line of JSONL/CSV/text: far above any real post


def _lines(path: Path) -> Iterator[str]:
    """Decoded lines (endings kept), with the byte offset of any bad UTF-8. Each read is
    bounded: a 10 GB file without a newline is refused, not loaded."""
    offset = 0
    try:
        with open(path, "rb") as fh:
            for i, raw in enumerate(iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b"")):
                if len(raw) > MAX_LINE_BYTES:
                    raise InputError(
                        f"{path}: line {i + 1} is longer than {MAX_LINE_BYTES:,} bytes; "
                        "this is not one post per line: check the file format"
                    )
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as ex:
                    raise bad_utf8(str(path), offset + ex.start, raw[ex.start]) from ex
                if i == 0 and line.startswith("\ufeff"):
                    line = line[1:]
                offset += len(raw)
                yield line
    except OSError as ex:
        raise InputError(f"{path}: cannot be read ({ex.strerror})") from ex


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


def _cr_lines(lines: Iterator[str]) -> Iterator[str]:
    """Lines ended by a lone CR (old Mac / Excel "CSV (Macintosh)" exports) split apart: the
    csv module refuses a CR inside what it was given as one line."""
    for line in lines:
        if "\r" in line:
            yield from (part for part in _LONE_CR.split(line) if part)
        else:
            yield line


def _csv(path: Path, rows: _Rows) -> Iterator[Post]:
    lines = _cr_lines(_lines(path))
    first = next(lines, None)
    if first is None:
        return
    delim = "\t" if path.suffix.lower() == ".tsv" else ","
    if delim not in first and ("\t" in first or ";" in first):
        delim = "\t" if "\t" in first else ";"
    # strict: a quote left open must be an error, not the rest of the file merged into one post
    reader = csv.reader(_chain(first, lines), delimiter=delim, strict=True)
    done = 0  # the last line of the last complete record
    try:
        header = next(reader)
        done = reader.line_num
        cols = Columns(header, rows.text_column, str(path))
        idx = {k: i for i, k in enumerate(header)}
        width = len(header)
        for rec in reader:
            start, done = done + 1, reader.line_num
            if not rec:
                continue
            if len(rec) < width:
                rec += [""] * (width - len(rec))
            row = {k: rec[i] for k, i in idx.items()}
            yield rows.post(row, cols, "csv", f"{path}: line {start}")
    except csv.Error as ex:
        if "unexpected end of data" in str(ex):
            raise InputError(
                f"{path}: line {done + 1}: a quoted field is never closed (the file ends inside "
                'it); add the missing " or re-export the file'
            ) from None
        raise InputError(
            f"{path}: bad CSV at line {reader.line_num} ({ex}); "
            "check the quoting or re-export the file"
        ) from None


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _jsonl(path: Path, rows: _Rows) -> Iterator[Post]:
    where = str(path)
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as ex:
            raise InputError(
                f"{where}: invalid JSON at line {n}, column {ex.colno} ({ex.msg}); "
                "each line must be one JSON object"
            ) from None
        except RecursionError:
            raise InputError(
                f"{where}: line {n}: JSON nested too deeply to be a post; "
                "each line must be one JSON object"
            ) from None
        yield _element(obj, rows, "jsonl", f"{where}: line {n}")


def _text(path: Path, rows: _Rows) -> Iterator[Post]:
    for line in _lines(path):
        line = line.rstrip("\r\n")
        if line.strip():
            yield rows.text_post(line, "text")


def _element(obj, rows: _Rows, kind: str, where: str) -> Post:
    if isinstance(obj, dict):
        return rows.post(obj, rows.columns(tuple(obj), where), kind, where)
    if isinstance(obj, str):
        return rows.text_post(obj, kind)
    raise InputError(
        f"{where}: expected an object with a text field or a string, got {type(obj).__name__}"
    )


def _file_chunks(path: Path) -> Iterator[bytes]:
    try:
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                yield block
    except OSError as ex:
        raise InputError(f"{path}: cannot be read ({ex.strerror})") from ex


def _json(path: Path, rows: _Rows) -> Iterator[Post]:
    where = str(path)
    text = decode_chunks(_file_chunks(path), where)
    head = ""
    for chunk in text:
        head += chunk
        if head.strip():
            break
    lead = head.lstrip()[:1]
    if not lead:
        return  # empty file
    if lead == "[":
        items = iter_json_array(_chain(head, text), where, todo="fix or re-export the file")
        for i, obj in enumerate(items):
            yield _element(obj, rows, "json", f"{where}: entry {i}")
        return
    body = head + read_whole(text, where)
    data = loads(body, where, "fix or re-export the file")
    items = None
    if isinstance(data, dict):
        items = next((data[k] for k in JSON_WRAPPERS if isinstance(data.get(k), list)), None)
        if items is None and "orderedItems" in data:
            raise InputError(
                f"{where}: looks like a Mastodon outbox; pass it as outbox.json or the export .zip"
            )
    if items is None:
        raise InputError(
            f"{where}: expected a JSON array of posts or an object with one of "
            f"{', '.join(JSON_WRAPPERS)} holding the array"
        )
    for i, obj in enumerate(items):
        yield _element(obj, rows, "json", f"{where}: entry {i}")
