"""X/Twitter account archive -> Posts: the ``.zip``, the extracted folder, or ``tweets.js`` alone.

What the archive holds (see shared/docs/DATA-SOURCES.md):
* ``data/tweets.js`` = ``window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]``; older exports
  ``data/tweet.js`` / ``window.YTD.tweet.part0``; big ones add ``tweets-part1.js``, ... Parsed by
  streaming the array (never ``eval``), so memory stays near one chunk plus one tweet.
* Retweets carry no flag: ``is_repost`` is set from the ``RT @`` text.
* Long posts are cut in tweets.js; ``note-tweet.js`` has the full text but no tweet id, so it is
  matched by creation time (to the second, +-2 s) and text prefix.
* ``deleted-tweets.js``, ``twitter-circle-tweet.js``, ``like.js`` and DMs are never read; only
  the files named above plus account/manifest/profile metadata are opened. ``email`` is never read.

Order: with ``sort=True`` (default) posts come oldest first by id, which means holding the
compact ``Post`` records (not the raw JSON) of the whole archive; ``sort=False`` yields them
in file order with memory bounded by one chunk.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from tweettwin.errors import InputError
from tweettwin.posts import Author, Post
from tweettwin.sources import SourceData
from tweettwin.sources.files import twitter_date_iso
from tweettwin.sources.safezip import (
    DEFAULT_MAX_MEMBER_BYTES,
    FolderTree,
    Tree,
    decode_chunks,
    iter_json_array,
    open_tree,
)

KIND = "x-archive"
TWEET_FILE = re.compile(r"^(tweets?)(?:-part(\d+))?\.js$")
NOTE_FILE = re.compile(r"^note-tweet(?:-part(\d+))?\.js$")
_YTD_PREFIX = re.compile(r"^\s*window\.YTD\.\w+\.part\d+\s*=\s*$")
_TODO = "this should be a file from an X/Twitter archive (Settings > Download an archive)"


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
    sort: bool = True,
    notes: bool = True,
    keep_edits: bool = False,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    spec: str | None = None,
) -> SourceData:
    """Open an X archive (zip, folder, or a lone ``tweets.js``/``tweet.js``/``tweets-partN.js``).

    author: handle to use instead of the archive's. notes: use note-tweet.js for long posts.
    keep_edits: keep superseded versions of edited posts (default: only the last version).
    """
    path = Path(path)
    tree, tweet_names, root = _open(path, max_member_bytes)
    handle, name, avatar = _author(tree, root, fallback=_fallback_handle(path))
    handle = (author or handle).lstrip("@")
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
        siblings = [p.name for p in sorted(path.parent.iterdir()) if p.is_file()]
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


def _part_no(name: str) -> int:
    m = re.search(r"-part(\d+)\.js$", name)
    return int(m.group(1)) if m else 0


def _fallback_handle(path: Path) -> str:
    if path.suffix.lower() == ".js":
        folder = path.parent.parent if path.parent.name == "data" else path.parent
        return folder.name or "unknown"
    return path.stem if path.suffix.lower() == ".zip" else path.name


def _ytd_entries(tree: Tree, name: str) -> Iterator[object]:
    where = tree.where(name)
    return iter_json_array(
        decode_chunks(tree.chunks(name), where),
        where,
        prefix_ok=lambda p: not p.strip() or bool(_YTD_PREFIX.match(p)),
        expected="'window.YTD.<name>.part<N> = [...]'",
        todo=_TODO,
    )


def _first_obj(tree: Tree, name: str, key: str) -> dict:
    """``[{key: {...}}]`` files (account.js, profile.js): the inner object or {}."""
    for entry in _ytd_entries(tree, name):
        if isinstance(entry, dict) and isinstance(entry.get(key), dict):
            return entry[key]
    return {}


def _author(tree: Tree, root: str, fallback: str) -> tuple[str, str, str | None]:
    handle = name = ""
    if root + "account.js" in tree.names:
        acc = _first_obj(tree, root + "account.js", "account")
        handle, name = acc.get("username") or "", acc.get("accountDisplayName") or ""
    if not handle and root + "manifest.js" in tree.names:
        info = _manifest(tree, root + "manifest.js").get("userInfo") or {}
        handle, name = info.get("userName") or "", name or info.get("displayName") or ""
    has_profile = root + "profile.js" in tree.names
    profile = _first_obj(tree, root + "profile.js", "profile") if has_profile else {}
    return handle or fallback, name, _avatar(tree, root, profile)


def _manifest(tree: Tree, name: str) -> dict:
    import json

    text = "".join(decode_chunks(tree.chunks(name), tree.where(name)))
    start = text.find("{")
    try:
        data = json.loads(text[start:].rstrip().rstrip(";")) if start >= 0 else {}
    except json.JSONDecodeError:
        return {}  # metadata only: a broken manifest must not stop the import
    return data if isinstance(data, dict) else {}


def _avatar(tree: Tree, root: str, profile: dict) -> str | None:
    """The profile picture inside the archive (member name, or file path for folders)."""
    media = [n for n in tree.names if n.startswith(root + "profile_media/")]
    if not media:
        return None
    wanted = PurePosixPath(str(profile.get("avatarMediaUrl") or "")).name
    header = PurePosixPath(str(profile.get("headerMediaUrl") or "")).name
    pick = next((n for n in media if PurePosixPath(n).name == wanted), None) if wanted else None
    pick = pick or next((n for n in media if PurePosixPath(n).name != header), None)
    if pick is None:
        return None
    return pick if tree.file_path(pick) == tree.path else str(tree.file_path(pick))


# --- long posts -------------------------------------------------------------------------------


def _load_notes(tree: Tree, names: list[str]) -> dict[str, list[tuple[str, list[str]]]]:
    """note-tweet entries keyed by creation second ``YYYY-MM-DDTHH:MM:SS``."""
    index: dict[str, list[tuple[str, list[str]]]] = {}
    for name in names:
        for entry in _ytd_entries(tree, name):
            note = entry.get("noteTweet", entry) if isinstance(entry, dict) else None
            if not isinstance(note, dict):
                continue
            core = note.get("core") if isinstance(note.get("core"), dict) else {}
            text = (
                core.get("text")
                or (note.get("noteTweetResults") or {}).get("text")
                or note.get("noteText")
                or note.get("text")
            )
            created = note.get("createdAt") or note.get("created_at") or ""
            if not isinstance(text, str) or not isinstance(created, str) or len(created) < 19:
                continue
            urls = [u.get("shortUrl") for u in core.get("urls") or () if isinstance(u, dict)]
            index.setdefault(created[:19], []).append((text, [u for u in urls if u]))
    return index


def _norm(s: str) -> str:
    return " ".join(s.split())


def _strip_mentions(text: str) -> tuple[str, str]:
    """Split the leading ``@a @b `` run the platform adds to replies: (prefix, rest)."""
    rest = text
    while rest.startswith("@"):
        head, sep, tail = rest.partition(" ")
        if not sep:
            break
        rest = tail.lstrip(" ")
    return text[: len(text) - len(rest)], rest


def _match_note(text: str, created: str, index: dict) -> tuple[str, list[str]] | None:
    keys = [created[:19]]
    if "…" in text:  # truncated: allow a couple of seconds of clock skew
        try:
            t0 = datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            t0 = None
        if t0 is not None:
            keys += [
                (t0 + timedelta(seconds=d)).strftime("%Y-%m-%dT%H:%M:%S") for d in (-1, 1, -2, 2)
            ]
    cands = [c for k in keys for c in index.get(k, ())]
    if not cands:
        return None
    prefix, body = _strip_mentions(text)
    if "…" in body:
        body = body[: body.rindex("…")]
    body = _norm(html.unescape(body))[:60]
    for note_text, note_urls in cands:
        if body and _norm(note_text).startswith(body):
            return prefix + html.escape(note_text, quote=False), note_urls
    return None


# --- tweets -----------------------------------------------------------------------------------


def _posts(
    tree: Tree, names: list[str], handle: str, notes: dict, sort: bool, keep_edits: bool
) -> Iterator[Post]:
    stream = _parse(tree, names, handle, notes)
    if not sort:  # streaming: a superseded edit is dropped even if its newer version is gone
        yield from (p for p, newer in stream if keep_edits or newer is None)
        return
    rows = list(stream)
    have = {p.id for p, _ in rows} if not keep_edits else set()
    posts = [p for p, newer in rows if keep_edits or newer is None or newer not in have]
    del rows, have
    posts.sort(key=lambda p: (len(p.id), p.id))  # integer order for digit strings
    yield from posts


def _parse(
    tree: Tree, names: list[str], handle: str, notes: dict
) -> Iterator[tuple[Post, str | None]]:
    """(post, id of its newer edited version or None), in file order."""
    total = 0
    for name in names:
        where = tree.where(name)
        for i, entry in enumerate(_ytd_entries(tree, name)):
            t = entry.get("tweet", entry) if isinstance(entry, dict) else None
            if not isinstance(t, dict):
                raise InputError(f"{where}: entry {i} is not a tweet object; {_TODO}")
            post = _post(t, handle, notes, where, i)
            total += 1
            newer = _last_edit(t)
            yield post, (newer if newer and newer != post.id else None)
    if total == 0:
        raise InputError(f"{tree.where(names[0])}: the archive contains no tweets")


def _last_edit(t: dict) -> str | None:
    info = t.get("edit_info")
    if not info:
        return None
    ctl = info.get("initial") or (info.get("edit") or {}).get("editControlInitial") or {}
    ids = ctl.get("editTweetIds") or ()
    return ids[-1] if len(ids) > 1 else None


def _post(t: dict, handle: str, notes: dict, where: str, i: int) -> Post:
    tid = t.get("id_str") or t.get("id")
    text = t.get("full_text")
    if text is None:
        text = t.get("text")
    if not tid or not isinstance(text, str):
        field = "id_str" if not tid else "full_text"
        raise InputError(f"{where}: entry {i} (tweet {tid or '?'}) has no '{field}' field; {_TODO}")
    created = t.get("created_at")
    created = twitter_date_iso(created) if created else None
    ents = t.get("entities") or {}
    urls = [u["url"] for u in ents.get("urls") or () if u.get("url")]
    media = ents.get("media")
    if media:
        urls += [m["url"] for m in media if m.get("url") and m["url"] not in urls]
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
        lang=t.get("lang"),
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
