"""Every supported input becomes a ``SourceData``: who wrote it, which files it came from, and a
stream of ``Post`` records. ``open_source`` sniffs the format of a SOURCE argument.

Readers stream: ``posts`` is an iterator, so a 1M-post input never sits in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Author, Post


@dataclass
class SourceData:
    spec: str  # the SOURCE as the user gave it
    kind: str  # "x-archive", "mastodon-archive", "csv", "json", "jsonl", "text", "fetched", ...
    files: list[Path]  # every input file read (hashed into the dataset manifest)
    posts: Iterator[Post]
    authors: dict[str, Author] = field(default_factory=dict)  # handle -> Author, when known


# Control characters and terminal escapes (NUL, ESC [31m, C1) have no place in a handle: it is
# shown in a terminal and becomes part of folder names.
MAX_HANDLE_CHARS = 100


def clean_handle(value) -> str:
    """A handle as found in an input (``@alice``, a number), fit to show and to name folders:
    no leading ``@``, no control characters, at most ``MAX_HANDLE_CHARS`` characters."""
    if value is None or isinstance(value, (list, dict, bool)):
        return ""
    from tweettwin.ingest.clean import strip_controls

    text = strip_controls(str(value)).replace("\t", "").replace("\n", "").replace("\r", "")
    text = text.strip().lstrip("@").strip()
    return text[:MAX_HANDLE_CHARS]


# --- format sniffing ----------------------------------------------------------------------------

SUPPORTED_INPUTS = (
    "an X/Twitter archive (.zip, its folder, or data/tweets.js), a Mastodon export (.zip or "
    "outbox.json), a .csv/.tsv/.json/.jsonl/.ndjson/.txt file, or a folder of such files"
)
# Options for on-the-fly fetches (``mastodon:@u@host`` ...): passed to fetch specs only.
FETCH_OPTIONS = frozenset(("api_base", "limit", "yes"))
# "workspace" is where a fetched SOURCE's pages go; file readers ignore it.
OPTIONS = frozenset(
    (
        "author",
        "text_column",
        "max_member_bytes",
        "sort",
        "notes",
        "keep_edits",
        "workspace",
        *FETCH_OPTIONS,
    )
)
_READER_OPTIONS = {
    "x-archive": ("author", "max_member_bytes", "sort", "notes", "keep_edits"),
    "mastodon-archive": ("author", "max_member_bytes"),
    "tabular": ("author", "text_column"),
}

# "scheme:rest" specs (e.g. "mastodon:@user@host", "bluesky:handle", "x:handle") -> opener.
# Fetchers register here: SCHEMES["bluesky"] = fn(rest: str, *, spec: str, **options).
SCHEMES: dict[str, Callable[..., SourceData]] = {}


def open_source(spec: str | Path, **options) -> SourceData:
    """Open one SOURCE: sniff what it is and return its ``SourceData`` (posts stream lazily).

    Options (None means default): ``author`` (handle to use instead of the detected one),
    ``text_column`` (tabular), ``max_member_bytes`` (zip member limit, default 2 GiB),
    ``sort`` (X: oldest first, holding every post; default False: file order, streamed),
    ``notes`` (X: full text of long posts from note-tweet.js, default True), ``keep_edits``
    (X: keep superseded edit versions, default False); for ``mastodon:``/``bluesky:``/``x:``
    specs fetched on the fly, ``fetch``'s ``api_base``, ``limit`` and ``yes``, and the
    ``workspace`` to fetch into.
    """
    unknown = set(options) - OPTIONS
    if unknown:
        from tweettwin.errors import ConfigError

        raise ConfigError(
            f"unknown source option(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(OPTIONS))}"
        )
    text = str(spec)
    scheme, sep, rest = text.partition(":")
    # Fetched accounts: importing registers mastodon:/bluesky:/x: in SCHEMES; folders of `fetch`.
    from tweettwin.ingest.sources import fetched

    path = Path(text).expanduser()
    exists = _exists(path)
    if exists and fetched.is_fetch_folder(text):
        return fetched.read_fetched(text, spec=text, author=options.get("author"))
    if sep and scheme in SCHEMES and not exists:
        return SCHEMES[scheme](
            rest, spec=text, **{k: v for k, v in options.items() if v is not None}
        )
    if not exists:
        shown = text if len(text) <= 200 else text[:197] + "..."
        raise InputError(f"{shown}: no such file or folder; give {SUPPORTED_INPUTS}")
    if not path.is_dir() and not path.is_file():
        # A FIFO or a device would block or never end.
        raise InputError(f"{text}: not a regular file or folder; give {SUPPORTED_INPUTS}")
    limit = options.get("max_member_bytes")
    kind = sniff(path, **({"max_member_bytes": limit} if limit else {}))
    kwargs = {k: options[k] for k in _READER_OPTIONS[kind] if options.get(k) is not None}
    return _reader(kind)(path, spec=text, **kwargs)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system: no such file, then
        return False


def _reader(kind: str) -> Callable[..., SourceData]:
    if kind == "x-archive":
        from tweettwin.ingest.sources.x_archive import read_x_archive

        return read_x_archive
    if kind == "mastodon-archive":
        from tweettwin.ingest.sources.mastodon_archive import read_mastodon_archive

        return read_mastodon_archive
    from tweettwin.ingest.sources.files import read_tabular

    return read_tabular


def sniff(path: Path, **zip_options) -> str:
    """ "x-archive", "mastodon-archive" or "tabular" for an existing path; InputError otherwise."""
    from tweettwin.ingest.sources.files import KINDS

    suffix = path.suffix.lower()
    if path.is_dir():
        names = [p.name for p in path.iterdir()]
        data = path / "data"
        if data.is_dir():
            names += [f"data/{p.name}" for p in data.iterdir()]
        return _sniff_names(names) or "tabular"
    if suffix == ".zip":
        from tweettwin.ingest.sources.safezip import ZipTree

        tree = ZipTree(path, **zip_options)
        try:
            if not tree.names:
                raise InputError(f"{path}: the zip is empty; download the archive again")
            kind = _sniff_names(tree.names)
        finally:
            tree.close()
        if kind is None:
            raise InputError(
                f"{path}: the zip holds neither data/tweets.js (X archive) nor "
                "outbox.json (Mastodon export); pass the archive as downloaded"
            )
        return kind
    if suffix == ".js":
        return "x-archive"
    if suffix == ".json" and (path.name == "outbox.json" or _looks_like_outbox(path)):
        return "mastodon-archive"
    if suffix in KINDS:
        return "tabular"
    raise InputError(
        f"{path}: unsupported input type {suffix or '(no extension)'!r}; give {SUPPORTED_INPUTS}"
    )


def _sniff_names(names: list[str]) -> str | None:
    from tweettwin.ingest.sources.mastodon_archive import find_outbox
    from tweettwin.ingest.sources.x_archive import find_root

    if find_root(names) is not None:
        return "x-archive"
    if find_outbox(names) is not None:
        return "mastodon-archive"
    return None


def _looks_like_outbox(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(65536).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    return head.startswith("{") and ('"orderedItems"' in head or "OrderedCollection" in head)
