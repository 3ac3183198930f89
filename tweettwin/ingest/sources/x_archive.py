"""X/Twitter account archive -> Posts: the ``.zip``, the extracted folder, or ``tweets.js`` alone.

What the archive holds (see shared/docs/DATA-SOURCES.md):
* ``data/tweets.js`` = ``window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]``; older exports
  ``data/tweet.js`` / ``window.YTD.tweet.part0``; big ones add ``tweets-part1.js``, ... Parsed by
  streaming the array (never ``eval``), so memory stays near one or two 1 MiB chunks. The fast
  path cuts the raw bytes between ``{"tweet": ...}`` entries and decodes each batch with
  msgspec into structs that keep only the fields used here (nothing else becomes a Python
  object); anything unusual (other shapes, invalid JSON or UTF-8, odd types) falls back to the
  exact streaming parser of ``safezip``, which gives the file/line/column of errors.
* Retweets carry no flag: ``is_repost`` is set from the ``RT @`` text.
* Long posts are cut in tweets.js; ``note-tweet.js`` has the full text but no tweet id, so it is
  matched by creation time (to the second, +-2 s) and text prefix.
* ``deleted-tweets.js``, ``twitter-circle-tweet.js``, ``like.js`` and DMs are never read; only
  the files named above plus account/manifest/profile metadata are opened. ``email`` is never read.

Order: by default posts stream in file order (archives list the newest first), with memory
bounded by a chunk plus 8 bytes per post (to know, for superseded edit versions, whether their
newer version is in the archive; those few come at the end). ``sort=True`` yields them oldest
first by id, which means holding the ``Post`` records of the whole archive.
"""

from __future__ import annotations

import codecs
import json
import re
from array import array
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import msgspec

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.sources import SourceData, clean_handle
from tweettwin.ingest.sources.dates import twitter_date_iso
from tweettwin.ingest.sources.safezip import (
    CHUNK,
    DEFAULT_MAX_MEMBER_BYTES,
    FolderTree,
    Tree,
    open_tree,
    safe_sibling,
)
from tweettwin.ingest.sources.x_archive_meta import (  # noqa: F401
    _MAX_META_CHARS,
    _TODO,
    _YTD_PREFIX,
    KIND,
    NOTE_FILE,
    TWEET_FILE,
    _author,
    _avatar,
    _dict,
    _fallback_handle,
    _first_obj,
    _load_notes,
    _manifest,
    _match_note,
    _norm,
    _part_no,
    _prefix_ok,
    _str,
    _strip_mentions,
    _ytd_entries,
)


def find_root(names: list[str]) -> str | None:
    """The folder (``""``, ``"data/"``, ``"x/data/"``) holding the tweets files, or None."""
    roots = []
    for name in names:
        p = PurePosixPath(name)
        if TWEET_FILE.match(p.name) and (p.parent.name in ("data", "") or str(p.parent) == "."):
            roots.append("" if str(p.parent) == "." else f"{p.parent}/")
    return min(roots, key=lambda r: (r.count("/"), r)) if roots else None


def is_x_tree(names: list[str]) -> bool:
    return find_root(names) is not None


def read_x_archive(
    path: str | Path,
    *,
    author: str | None = None,
    sort: bool = False,
    notes: bool = True,
    keep_edits: bool = False,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    spec: str | None = None,
) -> SourceData:
    """Open an X archive (zip, folder, or a lone ``tweets.js``/``tweet.js``/``tweets-partN.js``).

    author: handle to use instead of the archive's. notes: use note-tweet.js for long posts.
    keep_edits: keep superseded versions of edited posts (default: only the last version).
    sort: oldest first by id (holds every post in memory) instead of streaming in file order.
    """
    path = Path(path)
    tree, tweet_names, root = _open(path, max_member_bytes)
    handle, name, avatar = _author(tree, root, fallback=_fallback_handle(path))
    handle = clean_handle(author) or clean_handle(handle) or "posts"
    note_names = [n for n in tree.names if n.startswith(root) and NOTE_FILE.match(n[len(root) :])]
    note_index = _load_notes(tree, sorted(note_names, key=_part_no)) if notes else {}
    used = (
        tweet_names
        + note_names
        + [root + m for m in ("account.js", "manifest.js", "profile.js") if root + m in tree.names]
    )
    files = list(dict.fromkeys(tree.file_path(n) for n in used))
    posts = _posts(tree, tweet_names, handle, note_index, sort, keep_edits)
    return SourceData(
        spec=spec or str(path),
        kind=KIND,
        files=files,
        posts=posts,
        authors={handle: Author(handle=handle, name=name, avatar=avatar)},
    )


def _open(path: Path, max_member_bytes: int) -> tuple[Tree, list[str], str]:
    if path.is_file() and path.suffix.lower() == ".js":
        if not TWEET_FILE.match(path.name):
            raise InputError(
                f"{path}: not a tweets file; pass data/tweets.js (or tweet.js, tweets-partN.js), "
                "the archive folder or the .zip"
            )
        meta = ["account.js", "manifest.js", "profile.js"]
        siblings = [p.name for p in sorted(path.parent.iterdir()) if safe_sibling(p)]
        keep = [n for n in siblings if n in meta or NOTE_FILE.match(n)]
        return FolderTree(path.parent, [path.name, *keep]), [path.name], ""
    tree = open_tree(path, max_member_bytes)
    if not tree.names:
        raise InputError(f"{path}: the archive is empty; download the X archive again")
    root = find_root(tree.names)
    if root is None:
        raise InputError(
            f"{path}: no data/tweets.js (or tweet.js) inside; is this an X/Twitter archive? "
            "Pass the .zip as downloaded or its extracted folder"
        )
    stems = {
        TWEET_FILE.match(n[len(root) :]).group(1)
        for n in tree.names
        if n.startswith(root) and "/" not in n[len(root) :] and TWEET_FILE.match(n[len(root) :])
    }
    stem = "tweets" if "tweets" in stems else "tweet"  # never mix generations
    names = [
        n
        for n in tree.names
        if n.startswith(root)
        and "/" not in n[len(root) :]
        and (m := TWEET_FILE.match(n[len(root) :]))
        and m.group(1) == stem
    ]
    return tree, sorted(names, key=_part_no), root


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


# --- tweets -----------------------------------------------------------------------------------


def _posts(
    tree: Tree, names: list[str], handle: str, notes: dict, sort: bool, keep_edits: bool
) -> Iterator[Post]:
    held: list[tuple[Post, str]] = []
    seen = array("q")
    stream = _parse(tree, names, handle, notes, held, None if keep_edits else seen)
    if not sort:
        yield from stream
        yield from _still_current(held, seen)
        return
    posts = list(stream)
    posts += _still_current(held, seen)
    posts.sort(key=lambda p: (len(p.id), p.id))  # integer order for digit strings
    yield from posts


def _still_current(held: list[tuple[Post, str]], seen: array) -> Iterator[Post]:
    """Superseded edit versions whose newer version is NOT in the archive (before or after)."""
    if held:
        present = {hash(newer) for _, newer in held}.intersection(seen)
        yield from (p for p, newer in held if hash(newer) not in present)


def _parse(
    tree: Tree,
    names: list[str],
    handle: str,
    notes: dict,
    held: list[tuple[Post, str]],
    seen: array | None,
) -> Iterator[Post]:
    """Posts in file order. With ``seen`` (edits not kept), superseded edit versions go to
    ``held`` instead, with the id of their newer version, and ``seen`` gets an 8-byte hash
    of every id (not the strings), to decide about them at the end."""
    total = 0
    for name in names:
        where = tree.where(name)
        i = -1
        for batch in _tweet_batches(tree, name):
            for entry in batch:
                i += 1
                if type(entry) is _Entry:
                    t = entry.tweet
                    post = _fast_post(t, handle, notes, where, i)
                    raw = t.edit_info
                    newer = None if raw is None else _raw_last_edit(raw)
                else:
                    t = entry.get("tweet", entry) if isinstance(entry, dict) else None
                    if not isinstance(t, dict):
                        raise InputError(f"{where}: entry {i} is not a tweet object; {_TODO}")
                    post = _post(t, handle, notes, where, i)
                    newer = _last_edit(t)
                if seen is not None:
                    seen.append(hash(post.id))
                    if newer and newer != post.id:
                        held.append((post, newer))
                        continue
                yield post
        total += i + 1
    if total == 0:
        raise InputError(f"{tree.where(names[0])}: the archive contains no tweets")


def _last_edit(t: dict) -> str | None:
    """The id of the newest version of an edited post (None when not superseded); any odd
    shape of ``edit_info`` counts as "not edited" rather than stopping the import."""
    info = _dict(t.get("edit_info"))
    ctl = _dict(info.get("initial")) or _dict(_dict(info.get("edit")).get("editControlInitial"))
    ids = ctl.get("editTweetIds")
    if not isinstance(ids, list) or len(ids) < 2 or not isinstance(ids[-1], (str, int)):
        return None
    return str(ids[-1])


def _urls_of(ents) -> list[str]:
    if not isinstance(ents, dict):
        return []
    urls = [u for u in _url_strings(ents.get("urls"))]
    return urls + [m for m in _url_strings(ents.get("media")) if m not in urls]


def _url_strings(items) -> list[str]:
    """``[{"url": "https://t.co/..."}]`` -> the url strings (anything else is ignored)."""
    if not isinstance(items, list):
        return []
    return [
        u["url"]
        for u in items
        if isinstance(u, dict) and isinstance(u.get("url"), str) and u["url"]
    ]


def _post(t: dict, handle: str, notes: dict, where: str, i: int) -> Post:
    tid = t.get("id_str") or t.get("id")
    text = t.get("full_text")
    if text is None:
        text = t.get("text")
    if not tid or not isinstance(text, str):
        field = "id_str" if not tid else "full_text"
        raise InputError(f"{where}: entry {i} (tweet {tid or '?'}) has no '{field}' field; {_TODO}")
    created = t.get("created_at")
    created = twitter_date_iso(created) if isinstance(created, str) and created else None
    urls = _urls_of(t.get("entities") or {})
    if notes and created:
        hit = _match_note(text, created, notes)
        if hit:
            text, note_urls = hit
            urls += note_urls
    return Post(
        id=str(tid),
        text=text,
        author=handle,
        created_at=created,
        source=KIND,
        is_repost=text.startswith("RT @"),
        is_reply=bool(
            t.get("in_reply_to_status_id_str")
            or t.get("in_reply_to_status_id")
            or t.get("in_reply_to_user_id_str")
            or t.get("in_reply_to_user_id")
        ),
        lang=t.get("lang") if isinstance(t.get("lang"), str) else None,
        urls=urls,
    )


def read_avatar(archive: str | Path, avatar: str) -> bytes:
    """Bytes of ``Author.avatar`` from ``read_x_archive`` (a zip member name or a file path)."""
    p = Path(avatar)
    if p.is_absolute() or Path(archive).is_dir():
        return p.read_bytes()
    tree = open_tree(Path(archive))
    try:
        return tree.read(avatar)
    finally:
        tree.close()
