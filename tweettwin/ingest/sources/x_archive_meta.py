"""X archive account, profile, manifest and note-tweet handling (split from x_archive)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from tweettwin.errors import InputError
from tweettwin.ingest.sources import clean_handle
from tweettwin.ingest.sources.json_stream import iter_json_array
from tweettwin.ingest.sources.limits import CHUNK
from tweettwin.ingest.sources.safezip import Tree, decode_chunks, loads, read_whole

KIND = "x-archive"
TWEET_FILE = re.compile(r"^(tweets?)(?:-part(\d+))?\.js$")
NOTE_FILE = re.compile(r"^note-tweet(?:-part(\d+))?\.js$")
_YTD_PREFIX = re.compile(r"^\s*window\.YTD\.\w+\.part\d+\s*=\s*$")
_TODO = "this should be a file from an X/Twitter archive (Settings > Download an archive)"


def _part_no(name: str) -> int:
    m = re.search(r"-part(\d+)\.js$", name)
    return int(m.group(1)) if m else 0


def _fallback_handle(path: Path) -> str:
    if path.suffix.lower() == ".js":
        folder = path.parent.parent if path.parent.name == "data" else path.parent
        return folder.name or "unknown"
    return path.stem if path.suffix.lower() == ".zip" else path.name


def _prefix_ok(prefix: str) -> bool:
    return not prefix.strip() or bool(_YTD_PREFIX.match(prefix))


def _ytd_entries(tree: Tree, name: str) -> Iterator[object]:
    where = tree.where(name)
    return iter_json_array(
        decode_chunks(tree.chunks(name), where),
        where,
        prefix_ok=_prefix_ok,
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
        handle, name = clean_handle(acc.get("username")), _str(acc.get("accountDisplayName"))
    if not handle and root + "manifest.js" in tree.names:
        info = _manifest(tree, root + "manifest.js").get("userInfo")
        info = info if isinstance(info, dict) else {}
        handle, name = clean_handle(info.get("userName")), name or _str(info.get("displayName"))
    has_profile = root + "profile.js" in tree.names
    profile = _first_obj(tree, root + "profile.js", "profile") if has_profile else {}
    return handle or fallback, name, _avatar(tree, root, profile)


def _str(value) -> str:
    return value if isinstance(value, str) else ""


_MAX_META_CHARS = 16 * CHUNK  # manifest.js is a few KB


def _manifest(tree: Tree, name: str) -> dict:
    where = tree.where(name)
    text = read_whole(decode_chunks(tree.chunks(name), where), where, _MAX_META_CHARS)
    start = text.find("{")
    try:
        data = loads(text[start:].rstrip().rstrip(";"), where, _TODO) if start >= 0 else {}
    except InputError:
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
            core = _dict(note.get("core"))
            text = next(
                (
                    t
                    for t in (
                        core.get("text"),
                        _dict(note.get("noteTweetResults")).get("text"),
                        note.get("noteText"),
                        note.get("text"),
                    )
                    if isinstance(t, str) and t
                ),
                None,
            )
            created = note.get("createdAt") or note.get("created_at") or ""
            if not isinstance(text, str) or not isinstance(created, str) or len(created) < 19:
                continue
            urls = core.get("urls") if isinstance(core.get("urls"), list) else []
            short = [u.get("shortUrl") for u in urls if isinstance(u, dict)]
            index.setdefault(created[:19], []).append(
                (text, [u for u in short if isinstance(u, str) and u])
            )
    return index


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


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
            keys += [
                (t0 + timedelta(seconds=d)).strftime("%Y-%m-%dT%H:%M:%S") for d in (-1, 1, -2, 2)
            ]
        except (ValueError, OverflowError):  # OverflowError: seconds from the end of year 9999
            pass
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


# --- tweets: fast path -------------------------------------------------------------------------
