"""X/Twitter account archive -> Posts: the ``.zip``, the extracted folder, or ``tweets.js`` alone.

What the archive holds (see shared/docs/DATA-SOURCES.md):
* ``data/tweets.js`` = ``window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]``; older exports
  ``data/tweet.js`` / ``window.YTD.tweet.part0``; big ones add ``tweets-part1.js``, ... Parsed by
  streaming the array (never ``eval``), so memory stays near one or two 1 MiB chunks. The fast
  path (``x_archive_fast``) cuts the raw bytes between ``{"tweet": ...}`` entries and decodes
  each batch with msgspec into structs that keep only the fields used here (nothing else
  becomes a Python object); anything unusual (other shapes, invalid JSON or UTF-8, odd types)
  falls back to the exact streaming parser of ``safezip``, which gives the file/line/column of
  errors. Both turn a tweet into a ``Post`` by the same rules (``x_archive_tweet``).
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

from array import array
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.sources import SourceData, clean_handle
from tweettwin.ingest.sources.limits import DEFAULT_MAX_MEMBER_BYTES
from tweettwin.ingest.sources.safezip import FolderTree, Tree, open_tree, safe_sibling
from tweettwin.ingest.sources.x_archive_fast import (
    _Entry,
    _fast_post,
    _raw_last_edit,
    _tweet_batches,
)
from tweettwin.ingest.sources.x_archive_meta import (
    _TODO,
    KIND,
    NOTE_FILE,
    TWEET_FILE,
    _author,
    _fallback_handle,
    _load_notes,
    _part_no,
)
from tweettwin.ingest.sources.x_archive_tweet import _last_edit, _post


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
