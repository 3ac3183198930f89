"""One reader per file format: CSV/TSV, JSONL/NDJSON and plain text stream line by line, and
a JSON array streams element by element. Each yields the ``Post``s of one file through a
``Rows`` (the column mapping shared by the files of one source).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Post
from tweettwin.ingest.sources.columns import Columns, Rows
from tweettwin.ingest.sources.json_stream import iter_json_array
from tweettwin.ingest.sources.limits import CHUNK, MAX_ELEMENT_CHARS
from tweettwin.ingest.sources.safezip import bad_utf8, decode_chunks, loads, read_whole

JSON_WRAPPERS = ("tweets", "posts", "data", "items", "statuses", "records", "results")
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


def csv_posts(path: Path, rows: Rows) -> Iterator[Post]:
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


def jsonl_posts(path: Path, rows: Rows) -> Iterator[Post]:
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


def text_posts(path: Path, rows: Rows) -> Iterator[Post]:
    for line in _lines(path):
        line = line.rstrip("\r\n")
        if line.strip():
            yield rows.text_post(line, "text")


def _element(obj, rows: Rows, kind: str, where: str) -> Post:
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


def json_posts(path: Path, rows: Rows) -> Iterator[Post]:
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


READERS = {"csv": csv_posts, "json": json_posts, "jsonl": jsonl_posts, "text": text_posts}
