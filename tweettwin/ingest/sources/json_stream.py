"""``iter_json_array``: stream the elements of a ``[...]`` array out of text chunks, with an
allowed prefix (``window.YTD.tweets.part0 = ``) and errors that give the LINE and COLUMN in the
original file. Memory stays near one chunk plus one element; no value bigger than
``MAX_ELEMENT_CHARS`` is read. Every failure is one ``InputError`` line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

from tweettwin.errors import InputError
from tweettwin.ingest.sources.limits import CHUNK, MAX_ELEMENT_CHARS

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
