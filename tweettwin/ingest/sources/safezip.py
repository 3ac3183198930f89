"""Bounded, careful reading of input files: folders and zip members, UTF-8 text.

* ``open_tree`` gives one view over a zip file or a folder: relative POSIX names plus
  ``chunks(name)``. Zip members are read straight from the archive (never extracted); each
  member's declared size is checked against ``max_member_bytes`` AND the limit is enforced
  while reading, so a lying header cannot blow up memory.
* ``decode_chunks`` turns byte chunks into text, reporting the byte offset of bad UTF-8.
* ``read_whole`` reads a file parsed in one piece, up to a limit.

The size limits live in ``limits``; the streaming JSON-array reader (``iter_json_array``) in
``json_stream``. Both names are re-exported here for the readers.

Every failure is one ``InputError`` line that says what, where and what to do.
"""

from __future__ import annotations

import codecs
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.ingest.sources.json_stream import iter_json_array  # noqa: F401  (re-exported)
from tweettwin.ingest.sources.limits import (  # noqa: F401  (re-exported for the readers)
    CHUNK,
    DEFAULT_MAX_MEMBER_BYTES,
    MAX_ELEMENT_CHARS,
    MAX_RATIO,
    MAX_WHOLE_FILE_BYTES,
    RATIO_FLOOR,
)
from tweettwin.jsonio import loads  # noqa: F401  (re-exported for the readers)

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
        inflate = max(RATIO_FLOOR, MAX_RATIO * info.compress_size)
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
