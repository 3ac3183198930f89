"""Bounded, careful reading of input files: zip members, UTF-8 text, streamed JSON arrays.

* ``open_tree`` gives one view over a zip file or a folder: relative POSIX names plus
  ``chunks(name)``. Zip members are read straight from the archive (never extracted); each
  member's declared size is checked against ``max_member_bytes`` AND the limit is enforced
  while reading, so a lying header cannot blow up memory.
* ``decode_chunks`` turns byte chunks into text, reporting the byte offset of bad UTF-8.
* ``iter_json_array`` streams the elements of a ``[...]`` array out of text chunks, with an
  allowed prefix (``window.YTD.tweets.part0 = ``) and errors that give the LINE and COLUMN in
  the original file. Memory stays near one chunk plus one element.

Every failure is one ``InputError`` line that says what, where and what to do.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.jsonio import loads  # noqa: F401  (re-exported for the readers)

DEFAULT_MAX_MEMBER_BYTES = 2 * 1024**3  # 2 GiB per zip member
CHUNK = 1 << 20
# One JSON value (a post with its metadata) bigger than this is not a post: refusing it keeps
# memory and time bounded (a 200 MB "post" otherwise costs GBs and a minute).
MAX_ELEMENT_CHARS = 16 * CHUNK
# Files parsed in one piece (a Mastodon outbox, a JSON object wrapping the posts).
MAX_WHOLE_FILE_BYTES = 1024**3
# A member that inflates more than this many times over (and to more than 64 MiB) is a zip bomb:
# real archives of JSON text compress 5-20 times.
MAX_RATIO = 200
_RATIO_FLOOR = 64 * CHUNK

_ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


class Tree:
    """A folder or a zip file seen as relative POSIX names (``data/tweets.js``)."""

    path: Path
    names: list[str]

    def chunks(self, name: str, size: int = CHUNK) -> Iterator[bytes]:
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        return b"".join(self.chunks(name))

    def where(self, name: str) -> str:
        """How to name a member in messages: ``archive.zip:data/tweets.js`` or a file path."""
        raise NotImplementedError

    def file_path(self, name: str) -> Path:
        """The path recorded as an input file (a zip is recorded as itself)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def inside(root: Path, path: Path) -> bool:
    """Whether ``path`` really lies in ``root`` (False for a symlink that leads out of it)."""
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return False
    return True


def folder_files(root: Path, skip_dir: Callable[[Path], bool] | None = None) -> list[Path]:
    """Regular files under ``root``, hidden names skipped, sorted by relative POSIX path.

    Symlinks are never followed out of ``root`` (a link to /etc/passwd must not become a
    post), symlinked folders are not entered, and FIFOs or devices (which would block or
    never end) are skipped, as are sub-folders for which ``skip_dir`` is true.
    """
    root = Path(root)
    found = []
    stack = [root]  # not os.walk: it recurses, and 1,000 nested folders raise RecursionError
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # unreadable folder: nothing to read in it
        for entry in entries:
            p = Path(entry.path)
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if not (skip_dir and skip_dir(p)):
                    stack.append(p)
            elif entry.is_symlink() and not inside(root, p):
                continue
            elif p.is_file():
                found.append(p)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def safe_sibling(path: Path) -> bool:
    """A regular file that, if a symlink, stays in its own folder."""
    return path.is_file() and (not path.is_symlink() or inside(path.parent, path))


class FolderTree(Tree):
    def __init__(self, path: Path, names: list[str] | None = None) -> None:
        self.path = Path(path)
        if names is None:
            names = [p.relative_to(self.path).as_posix() for p in folder_files(self.path)]
        else:  # siblings named by the caller: the same rule (no link out of the folder)
            names = [n for n in names if n == names[0] or safe_sibling(self.path / n)]
        self.names = names

    def chunks(self, name: str, size: int = CHUNK) -> Iterator[bytes]:
        try:
            with open(self.path / name, "rb") as f:
                while block := f.read(size):
                    yield block
        except OSError as ex:
            raise InputError(
                f"{self.where(name)}: cannot be read ({ex.strerror}); check the file permissions"
            ) from ex

    def where(self, name: str) -> str:
        return str(self.path / name)

    def file_path(self, name: str) -> Path:
        return self.path / name


class ZipTree(Tree):
    def __init__(self, path: Path, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> None:
        self.path = Path(path)
        self.max_member_bytes = max_member_bytes
        try:
            self.zf = zipfile.ZipFile(self.path)
            infos = self.zf.infolist()
        except zipfile.BadZipFile as ex:
            raise InputError(
                f"{self.path}: not a valid zip file ({ex}); download the archive again "
                "or pass the extracted folder"
            ) from ex
        except OSError as ex:
            raise InputError(f"{self.path}: cannot be read ({ex.strerror})") from ex
        self.infos = {i.filename: i for i in infos if not i.is_dir()}
        self.names = sorted(self.infos)

    def chunks(self, name: str, size: int = CHUNK) -> Iterator[bytes]:
        info = self.infos[name]
        limit = self.max_member_bytes
        if info.file_size > limit:
            raise InputError(
                f"{self.where(name)}: declares {info.file_size:,} bytes, over the "
                f"{limit:,}-byte limit per member; the zip may be damaged or hostile "
                "(raise max_member_bytes if it is genuine)"
            )
        # The declared compressed size is checked by zipfile (it reads no further), so this
        # bounds what a member can inflate to, whatever its header claims.
        inflate = max(_RATIO_FLOOR, MAX_RATIO * info.compress_size)
        read = 0
        try:
            with self.zf.open(info) as f:
                while block := f.read(size):
                    read += len(block)
                    if read > limit:  # the header lied
                        raise InputError(
                            f"{self.where(name)}: holds more than the {limit:,}-byte limit "
                            "(its header says less); the zip is damaged or hostile"
                        )
                    if read > inflate:
                        raise InputError(
                            f"{self.where(name)}: inflates more than {MAX_RATIO} times over "
                            f"({info.compress_size:,} bytes compressed); this is a zip bomb, "
                            "not an archive: download the archive again"
                        )
                    yield block
        except InputError:
            raise
        except _ZIP_READ_ERRORS as ex:
            raise InputError(
                f"{self.where(name)}: damaged zip member ({ex}); download the archive again"
            ) from ex

    def where(self, name: str) -> str:
        return f"{self.path}:{name}"

    def file_path(self, name: str) -> Path:
        return self.path

    def close(self) -> None:
        self.zf.close()


def open_tree(path: Path, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> Tree:
    path = Path(path)
    if path.is_dir():
        return FolderTree(path)
    return ZipTree(path, max_member_bytes)


def decode_chunks(chunks: Iterator[bytes], where: str) -> Iterator[str]:
    """UTF-8 decode (a leading BOM is dropped); bad bytes -> InputError with the byte offset."""
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    fed = 0  # bytes handed to the decoder before this block
    first = True
    for block in chunks:
        try:
            text = dec.decode(block)
        except UnicodeDecodeError as ex:
            pending = len(dec.getstate()[0])
            raise bad_utf8(where, fed - pending + ex.start, ex.object[ex.start]) from ex
        fed += len(block)
        if first and text:
            first = False
            if text[0] == "\ufeff":
                text = text[1:]
        if text:
            yield text
    try:
        dec.decode(b"", final=True)
    except UnicodeDecodeError as ex:
        raise bad_utf8(where, fed - (len(ex.object) - ex.start), ex.object[ex.start]) from ex


def read_whole(texts: Iterator[str], where: str, limit: int = MAX_WHOLE_FILE_BYTES) -> str:
    """The text of a file parsed in one piece, refusing one over ``limit`` characters."""
    parts, size = [], 0
    for text in texts:
        size += len(text)
        if size > limit:
            raise InputError(
                f"{where}: larger than {limit:,} characters, too big to read in one piece; "
                "split it, or give the posts as a JSON array or JSONL"
            )
        parts.append(text)
    return "".join(parts)


def bad_utf8(where: str, offset: int, byte: int) -> InputError:
    return InputError(
        f"{where}: not UTF-8 text (byte 0x{byte:02x} at byte offset {offset:,}); "
        "re-save the file as UTF-8"
    )


_WS = re.compile(r"[ \t\n\r]*")
_SEP = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")
_scan_once = json.JSONDecoder().scan_once  # the C scanner: one value from an index


class _Text:
    """A sliding text buffer over chunks that remembers the line/column of its start."""

    def __init__(self, chunks: Iterator[str], where: str) -> None:
        self.chunks = chunks
        self.where = where
        self.buf = ""
        self.eof = False
        self.line = 1  # line of buf[0] in the original file
        self.col = 1  # column of buf[0]

    def more(self) -> bool:
        if self.eof:
            return False
        nxt = next(self.chunks, None)
        if nxt is None:
            self.eof = True
            return False
        self.buf += nxt
        return True

    def drop(self, pos: int) -> None:
        """Forget buf[:pos], keeping line/column bookkeeping."""
        buf = self.buf
        n = buf.count("\n", 0, pos)
        if n:
            self.line += n
            self.col = pos - buf.rfind("\n", 0, pos)
        else:
            self.col += pos
        self.buf = buf[pos:]

    def locate(self, pos: int) -> str:
        buf = self.buf
        n = buf.count("\n", 0, pos)
        col = pos - buf.rfind("\n", 0, pos) if n else self.col + pos
        return f"line {self.line + n}, column {col}"

    def error(self, pos: int, what: str, todo: str) -> InputError:
        return InputError(f"{self.where}: {what} at {self.locate(pos)}; {todo}")


def iter_json_array(
    chunks: Iterator[str],
    where: str,
    *,
    prefix_ok: Callable[[str], bool] = lambda p: not p.strip(),
    expected: str = "a JSON array",
    todo: str = "fix or re-export the file",
) -> Iterator[object]:
    """Yield the elements of the JSON array in ``chunks`` one by one.

    Text before the first ``[`` must satisfy ``prefix_ok``; after the closing ``]`` only
    whitespace and one ``;`` may follow. Never evaluates anything.
    """
    t = _Text(chunks, where)
    while (start := t.buf.find("[")) < 0:
        if len(t.buf) > 65536 or not t.more():
            raise InputError(f"{where}: does not contain {expected} (no '[' found); {todo}")
    if not prefix_ok(t.buf[:start]):
        head = t.buf[:start].strip()[:40]
        raise InputError(f"{where}: unexpected start {head!r} (expected {expected}); {todo}")
    pos = start + 1
    first = True
    buf_len = 0
    sep = _SEP.match
    while True:
        # fast path: ", <value>" fully inside the buffer
        if not first and (m := sep(t.buf, pos)) and (p2 := m.end()) < buf_len:
            try:
                value, end = _scan_once(t.buf, p2)
            except (StopIteration, json.JSONDecodeError, RecursionError):
                value = end = None  # the slow path below reports it
            if end is not None and end < buf_len:
                pos = end
                yield value
                if pos > CHUNK:
                    t.drop(pos)
                    pos = 0
                    buf_len = len(t.buf)
                continue
        pos = _skip_ws(t, pos)
        if pos >= len(t.buf):
            raise t.error(pos, "file ends inside the array (missing ']')", todo)
        c = t.buf[pos]
        if c == "]":
            _check_tail(t, pos + 1, todo)
            return
        if not first:
            if c != ",":
                raise t.error(pos, "invalid JSON: expecting ',' delimiter", todo)
            pos = _skip_ws(t, pos + 1)
        value, pos = _scan(t, pos, todo)
        first = False
        buf_len = len(t.buf)
        yield value
        if pos > CHUNK:
            t.drop(pos)
            pos = 0
            buf_len = len(t.buf)


def _skip_ws(t: _Text, pos: int) -> int:
    while True:
        pos = _WS.match(t.buf, pos).end()
        if pos < len(t.buf):
            return pos
        # All whitespace so far: forget it before reading on, else a file of blanks (a
        # whitespace zip bomb) makes every read copy an ever longer buffer.
        t.drop(pos)
        pos = 0
        if not t.more():
            return pos


def _scan(t: _Text, pos: int, todo: str) -> tuple[object, int]:
    while True:
        try:
            value, end = _scan_once(t.buf, pos)
        except StopIteration as ex:
            if _more_for(t, pos, todo):
                continue
            raise t.error(ex.value, "invalid JSON: expecting a value", todo) from None
        except json.JSONDecodeError as ex:
            if _more_for(t, pos, todo):
                continue
            raise t.error(ex.pos, f"invalid JSON: {ex.msg}", todo) from None
        except RecursionError:
            raise t.error(pos, "JSON nested too deeply (not a post)", todo) from None
        if end < len(t.buf) or not _more_for(t, pos, todo):  # a number may go on in the next chunk
            return value, end


def _more_for(t: _Text, pos: int, todo: str) -> bool:
    """Read more of one unfinished value, refusing values too big to be a post: each retry
    rescans the value, so without a bound a 200 MB value costs minutes."""
    if len(t.buf) - pos > MAX_ELEMENT_CHARS:
        raise t.error(
            pos, f"an entry larger than {MAX_ELEMENT_CHARS:,} characters (not a post)", todo
        )
    return t.more()


def _check_tail(t: _Text, pos: int, todo: str) -> None:
    pos = _skip_ws(t, pos)
    if pos < len(t.buf) and t.buf[pos] == ";":
        pos = _skip_ws(t, pos + 1)
    if pos < len(t.buf):
        raise t.error(pos, "unexpected text after the closing ']'", todo)
