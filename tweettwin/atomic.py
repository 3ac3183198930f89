"""Never leave half-written output: write to a temporary sibling, then rename into place.

Temp names carry the writer's process id and host (``.NAME.<pid>-<host hash>-<random>.tmp``),
so the next writer of the same output can tell leftovers of a killed run (its process is gone)
from the work of one still running, and removes only the former. A temp folder of another
host (a shared file system) is only removed once it is a day old: its process cannot be seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# A leftover without a process id (written by an older tweettwin) counts as stale after this;
# one of another host after STALE_FOREIGN_S.
STALE_AFTER_S = 3600.0
STALE_FOREIGN_S = 86400.0
_PID = re.compile(r"^(\d+)-(?:([0-9a-f]{8})-)?")
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator:
    """Open a temp file beside ``path``; on success fsync and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    kwargs = {} if "b" in mode else {"encoding": encoding, "newline": "\n"}
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_file(path) as fh:
        fh.write(text)


def temp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}-{HOST}-"


def is_stale(entry: Path, pid_part: str) -> bool:
    """A temp file/folder whose writer is gone (or, without a pid of this host, that is old)."""
    m = _PID.match(pid_part)
    if m and m.group(2) in (None, HOST):
        return not _alive(int(m.group(1)))
    try:
        age = time.time() - entry.lstat().st_mtime
    except OSError:
        return False
    return age > (STALE_FOREIGN_S if m else STALE_AFTER_S)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process: not ours to judge
    return True


def clean_stale(path: str | os.PathLike) -> None:
    """Remove temp siblings of ``path`` left by killed runs; put back a ``.NAME.old`` that a
    run killed in the middle of its two renames left without a ``NAME``."""
    path = Path(path)
    old = path.with_name(f".{path.name}.old")
    with contextlib.suppress(OSError):
        if old.is_dir() and not old.is_symlink():
            if not os.path.lexists(path):
                os.replace(old, path)  # the previous output, not yet replaced: restore it
            elif is_stale(old, ""):
                shutil.rmtree(old, ignore_errors=True)
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    head = f".{path.name}."
    for entry in siblings:
        name = entry.name
        if not (name.startswith(head) and name.endswith(".tmp")):
            continue
        if is_stale(entry, name[len(head) :]):
            _remove(entry)


def _remove(entry: Path) -> None:
    with contextlib.suppress(OSError):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; on success it replaces ``path`` in one rename.

    An existing ``path`` is only replaced when ``overwrite`` is true, and only after the new
    content is complete, so a failure never destroys a finished output. Leftovers of killed
    runs beside ``path`` are cleaned first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            if not overwrite:
                raise FileExistsError(path)
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp file name beside ``path`` for a writer that opens files itself; on success
    the finished file is renamed over ``path`` (in one step), on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a model file is for sharing
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
