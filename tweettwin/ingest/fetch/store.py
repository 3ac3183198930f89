"""The output folder of ``tweettwin fetch``: the platform's own objects, page by page.

    <folder>/posts.jsonl     one platform object per line (Mastodon status, Bluesky feed item,
                             X post), appended page by page and fsynced
    <folder>/manifest.json   {"format": "tweettwin-fetch", platform, account, api_base, counts,
                             the open pass (cursor...), newest_id, complete}; rewritten
                             atomically after each page

The manifest records how many bytes of ``posts.jsonl`` belong to committed pages. A crash
between appending a page and rewriting the manifest leaves extra bytes, which the next open
cuts off: the page is then fetched again from the saved cursor, so a resume has neither
duplicates nor gaps. The manifest holds no wall-clock time, so the same posts give the same
files (prepare hashes its inputs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tweettwin import __version__
from tweettwin.atomic import clean_stale, write_text
from tweettwin.errors import FetchError, InputError, OutputExistsError
from tweettwin.jsonio import loads

FORMAT = "tweettwin-fetch"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ITEMS = "posts.jsonl"
MAX_LINE_BYTES = 16 * 1024**2
MAX_MANIFEST_BYTES = 16 * 1024**2


def is_fetch_folder(path: str | os.PathLike) -> bool:
    manifest = Path(path) / MANIFEST
    try:
        if not manifest.is_file() or manifest.stat().st_size > MAX_MANIFEST_BYTES:
            return False
        return json.loads(manifest.read_text(encoding="utf-8")).get("format") == FORMAT
    except (ValueError, OSError, AttributeError, RecursionError):
        return False


def read_manifest(path: str | os.PathLike) -> dict:
    path = Path(path)
    file = path / MANIFEST
    try:
        if file.stat().st_size > MAX_MANIFEST_BYTES:  # a manifest is a few KB
            raise InputError(f"{file}: too large to be a fetch manifest; fetch into a new folder")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} is not a fetched folder: {MANIFEST} is missing") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: not UTF-8 text; fetch again into a new folder") from None
    except OSError as ex:
        raise InputError(f"{file}: cannot be read ({ex.strerror})") from None
    manifest = loads(text, str(file), "fetch again into a new folder")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{file}: not a tweettwin fetch manifest (format is not {FORMAT!r})")
    version = manifest.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(
            f"{file}: format_version {version!r} is newer than this tweettwin"
            " understands; upgrade tweettwin"
        )
    _check_fields(path, file, manifest)
    return manifest


# Fields the fetcher and the reader rely on, with the type each must have.
_COUNTS = ("items", "bytes", "pages")


def _check_fields(folder: Path, file: Path, manifest: dict) -> None:
    """A manifest is data from disk: it may have been edited by hand, or by someone hostile.
    Above all, ``items_file`` must name a file IN the folder: a fetch truncates and appends to
    it, so ``../victim.txt`` or ``/home/me/.bashrc`` would destroy another file."""

    def bad(field: str, what: str) -> InputError:
        return InputError(f"{file}: field {field!r} {what}; fetch again into a new folder")

    name = manifest.get("items_file", ITEMS)
    if not isinstance(name, str) or not _plain_name(name):
        raise bad("items_file", "must be a file name inside the folder (like posts.jsonl)")
    target = folder / name
    if target.is_symlink() and not _inside(folder, target):
        raise bad("items_file", f"is a link that leads out of {folder}")
    for key in _COUNTS:
        value = manifest.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad(key, "must be a whole number >= 0")
    if not isinstance(manifest.get("account", {}), dict):
        raise bad("account", "must be an object")
    if not isinstance(manifest.get("pass"), (dict, type(None))):
        raise bad("pass", "must be an object or null")


def _plain_name(name: str) -> bool:
    return (
        name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and not os.path.isabs(name)
        and len(name.encode("utf-8", "surrogatepass")) <= 255
    )


def _inside(folder: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


class FetchStore:
    """A fetch folder open for appending. Create with ``FetchStore.open``."""

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = path
        self.manifest = manifest

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        *,
        platform: str,
        source: str,
        spec: str,
        api_base: str,
        account: dict,
    ) -> FetchStore:
        """Open ``path`` for ``account`` (create it, or resume/update the same account there)."""
        path = Path(path)
        if (path / MANIFEST).exists():
            clean_stale(path / MANIFEST)  # temp manifests of killed runs
            manifest = read_manifest(path)
            if (
                manifest.get("platform") != platform
                or manifest.get("account", {}).get("id") != account["id"]
            ):
                handle = manifest.get("account", {}).get("handle")
                old = f"{manifest.get('platform')} account {handle}"
                raise OutputExistsError(
                    f"{path} already holds posts of {old}; choose another folder with -o"
                )
            manifest["account"] = account  # profile data refreshed (name, counts)
            manifest["api_base"] = api_base
            store = cls(path, manifest)
            store._cut_uncommitted()
            return store
        if path.exists() and any(path.iterdir()):
            raise OutputExistsError(
                f"{path} exists and is not a fetched folder; choose another with -o"
            )
        path.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "tool_version": __version__,
            "platform": platform,
            "source": source,
            "spec": spec,
            "api_base": api_base,
            "account": account,
            "items_file": ITEMS,
            "items": 0,
            "bytes": 0,
            "pages": 0,
            "newest_id": None,
            "complete": False,
            "stopped": None,
            "pass": None,
        }
        store = cls(path, manifest)
        (path / ITEMS).touch()
        store.save()
        return store

    @property
    def items_path(self) -> Path:
        return self.path / self.manifest.get("items_file", ITEMS)

    @property
    def count(self) -> int:
        return int(self.manifest["items"])

    def _cut_uncommitted(self) -> None:
        """Drop bytes appended after the last committed page (a crash between the two writes)."""
        committed = int(self.manifest["bytes"])
        with open(self.items_path, "ab") as fh:
            if fh.tell() > committed:
                fh.truncate(committed)
                fh.flush()
                os.fsync(fh.fileno())

    def save(self) -> None:
        write_text(
            self.path / MANIFEST, json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n"
        )

    def commit_page(self, items: Iterable[dict]) -> None:
        """Append a page durably, then record it in the manifest (the caller set the cursor)."""
        try:
            data = b"".join(
                json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode(
                    "utf-8", "surrogatepass"
                )
                + b"\n"
                for item in items
            )
        except RecursionError:
            raise FetchError(
                "the server sent posts nested too deeply to store; check --api-base"
            ) from None
        with open(self.items_path, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.manifest["items"] += data.count(b"\n")
        self.manifest["bytes"] += len(data)
        self.manifest["pages"] += 1
        self.save()

    def keys(self, key: Callable[[dict], str]) -> set[str]:
        return {key(item) for item in iter_items(self.path, self.manifest)}


def iter_items(path: str | os.PathLike, manifest: dict | None = None) -> Iterator[dict]:
    """The committed objects of a fetch folder, in the order they were fetched."""
    path = Path(path)
    manifest = manifest or read_manifest(path)
    file = path / manifest.get("items_file", ITEMS)
    remaining = int(manifest.get("bytes", 0))
    try:
        fh = open(file, "rb")
    except OSError as ex:
        raise InputError(f"{file}: cannot be read ({ex.strerror}); fetch again") from None
    with fh:
        # Bounded reads: one line is one post object, never anywhere near 16 MiB.
        for number, line in enumerate(iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""), 1):
            if remaining <= 0:
                break  # uncommitted tail of an interrupted page
            if len(line) > MAX_LINE_BYTES:
                raise InputError(f"{file}, line {number}: longer than {MAX_LINE_BYTES:,} bytes")
            remaining -= len(line)
            try:
                item: Any = json.loads(line)
            except (ValueError, RecursionError) as ex:
                detail = "nested too deeply" if isinstance(ex, RecursionError) else str(ex)
                raise InputError(f"{file}, line {number}: not valid JSON ({detail})") from None
            if not isinstance(item, dict):
                raise InputError(f"{file}, line {number}: expected a JSON object")
            yield item
