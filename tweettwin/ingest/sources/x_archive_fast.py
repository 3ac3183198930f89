"""The fast path for ``tweets.js``: raw bytes cut between ``{"tweet": ...}`` entries, each batch
decoded with msgspec into structs that keep only the fields a ``Post`` needs (nothing else
becomes a Python object). Anything unusual (other shapes, invalid JSON or UTF-8, odd types)
raises ``_Fallback``, and :func:`_tweet_batches` re-reads the file with the exact streaming
parser of ``safezip``, which gives the file/line/column of errors.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator

import msgspec

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Post
from tweettwin.ingest.sources.dates import twitter_date_iso
from tweettwin.ingest.sources.limits import CHUNK
from tweettwin.ingest.sources.safezip import Tree
from tweettwin.ingest.sources.x_archive_meta import (
    _TODO,
    KIND,
    _match_note,
    _prefix_ok,
    _ytd_entries,
)
from tweettwin.ingest.sources.x_archive_tweet import _last_edit, _urls_of


class _Url(msgspec.Struct):
    url: str | None = None


class _Entities(msgspec.Struct):
    urls: list[_Url] | None = None
    media: list[_Url] | None = None


class _Tweet(msgspec.Struct):
    """The fields of an archive tweet that become a ``Post``; every other field is skipped.

    ``entities`` and ``edit_info`` stay raw bytes (``msgspec.Raw``): most posts need nothing
    from them, and a cheap substring test says which ones do.
    """

    id_str: str | int | None = None
    id: str | int | None = None
    full_text: str | None = None
    text: str | None = None
    created_at: str | None = None
    in_reply_to_status_id_str: str | int | None = None
    in_reply_to_status_id: str | int | None = None
    in_reply_to_user_id_str: str | int | None = None
    in_reply_to_user_id: str | int | None = None
    lang: str | None = None
    entities: msgspec.Raw = None  # type: ignore[assignment]  (absent -> None)
    edit_info: msgspec.Raw = None  # type: ignore[assignment]


class _Entry(msgspec.Struct):
    tweet: _Tweet  # required: an unwrapped entry fails validation -> the exact parser


class _Fallback(Exception):
    """The fast path cannot decode this file as is: re-read it with the exact parser."""


_BATCHES = msgspec.json.Decoder(list[_Entry])
_ENTITIES = msgspec.json.Decoder(_Entities)
_JSON_WS = b" \t\n\r"
# Between two top-level entries: '}', ',', then an object whose first key is "tweet". Outside
# strings by construction (a '"' inside a string is escaped). A nested match (an inner array of
# {"tweet": ...} objects) cuts inside an entry, and the batch then fails to decode: fallback.
_CUT = re.compile(rb'\}[ \t\n\r]*,[ \t\n\r]*(?=\{[ \t\n\r]*"tweet"[ \t\n\r]*:)')
_ONE_EDIT_ID = re.compile(rb'"editTweetIds"[ \t\n\r]*:[ \t\n\r]*\[[ \t\n\r]*"[^"\\]*"[ \t\n\r]*\]')
_MAX_BUFFER = 8 * CHUNK  # no cut found in this much text: not the usual shape


def _fast_batches(tree: Tree, name: str) -> Iterator[list[_Entry]]:
    """Lists of decoded entries, about 1 MiB of JSON at a time; ``_Fallback`` when unusual."""
    chunks = tree.chunks(name)
    buf = b""
    for block in chunks:
        buf += block
        if (start := buf.find(b"[")) >= 0 or len(buf) > 65536:
            break
    else:
        start = -1
    if start < 0:
        raise _Fallback
    try:
        ok = _prefix_ok(buf[:start].removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    except UnicodeDecodeError:
        ok = False
    if not ok:
        raise _Fallback
    buf = buf[start + 1 :]
    for block in chunks:
        buf += block
        cut = _CUT.search(buf, max(0, len(buf) - CHUNK // 4)) or _CUT.search(buf)
        if cut is None:
            if len(buf) > _MAX_BUFFER:
                raise _Fallback
            continue
        yield _decode_batch(buf[: cut.start() + 1])
        buf = buf[cut.end() :]
    body = buf.rstrip(_JSON_WS)  # the end: "... } ]" then optional ";" (as the exact parser)
    if body.endswith(b";"):
        body = body[:-1].rstrip(_JSON_WS)
    if not body.endswith(b"]"):
        raise _Fallback
    yield _decode_batch(body[:-1])


def _decode_batch(body: bytes) -> list[_Entry]:
    try:
        return _BATCHES.decode(b"[" + body + b"]")
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # ValidationError too
        raise _Fallback from None  # the exact parser names the place (deep nesting included)


def _tweet_batches(tree: Tree, name: str) -> Iterator[list]:
    """The file's entries in order, in lists: ``_Entry`` structs, or (after a fallback) plain
    JSON values from the exact parser, which re-reads the file from the start and skips the
    entries already given: the caller sees each entry once and that parser's errors."""
    done = 0
    try:
        for batch in _fast_batches(tree, name):
            yield batch
            done += len(batch)
        return
    except _Fallback:
        pass
    for i, entry in enumerate(_ytd_entries(tree, name)):
        if i >= done:
            yield [entry]


def _loads(data: bytes) -> object:
    """A raw value msgspec skipped over; what it rejects (lone surrogates) json still reads."""
    try:
        return msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        try:
            return json.loads(data)
        except RecursionError:  # absurdly nested metadata: nothing usable in it
            return {}


def _entity_urls(raw: msgspec.Raw) -> list[str]:
    """``entities.urls[].url`` then new ``entities.media[].url`` (as ``_post`` does for dicts)."""
    data = bytes(raw)
    if b'"url"' not in data and b"\\" not in data:
        return []  # no url key (an escaped key takes the slow way): nothing to collect
    try:
        ents = _ENTITIES.decode(data)
    except msgspec.ValidationError:  # odd types: the dict rules, exactly
        return _urls_of(_loads(data) or {})
    urls = [u.url for u in ents.urls or () if u.url]
    if ents.media:
        urls += [m.url for m in ents.media if m.url and m.url not in urls]
    return urls


def _raw_last_edit(raw: msgspec.Raw) -> str | None:
    """``_last_edit`` for raw ``edit_info`` bytes; decoded only when there may be 2+ ids."""
    data = bytes(raw)
    if (
        _ONE_EDIT_ID.search(data) is not None
        and data.count(b"editTweetIds") == 1
        and b"\\" not in data
    ):
        return None  # the one editTweetIds list holds one id: not superseded
    return _last_edit({"edit_info": _loads(data)})


def _fast_post(t: _Tweet, handle: str, notes: dict, where: str, i: int) -> Post:
    """``_post`` for a decoded ``_Tweet`` (same rules, same errors)."""
    tid = t.id_str or t.id
    text = t.full_text
    if text is None:
        text = t.text
    if not tid or text is None:
        field = "id_str" if not tid else "full_text"
        raise InputError(f"{where}: entry {i} (tweet {tid or '?'}) has no '{field}' field; {_TODO}")
    created = t.created_at
    created = twitter_date_iso(created) if created else None
    ents = t.entities
    urls = _entity_urls(ents) if ents is not None else []
    if notes and created:
        hit = _match_note(text, created, notes)
        if hit:
            text, note_urls = hit
            urls += note_urls
    is_reply = bool(
        t.in_reply_to_status_id_str
        or t.in_reply_to_status_id
        or t.in_reply_to_user_id_str
        or t.in_reply_to_user_id
    )
    # Positional (Post's field order): measurably cheaper than keywords a million times over.
    # id, text, author, created_at, source, is_repost, is_reply, private, lang, urls
    return Post(
        str(tid),
        text,
        handle,
        created,
        KIND,
        text.startswith("RT @"),
        is_reply,
        False,
        t.lang,
        urls,
    )
