"""``prepare``: read every SOURCE, clean the posts, and write one versioned dataset folder.

One streaming pass reads and cleans (memory holds 8-byte digests and split keys, not posts);
a second pass over a temporary spool file writes the split. Nothing is written to the output
folder until the whole input has been read and judged usable, and the folder then appears in
one rename.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tweettwin import __version__
from tweettwin.atomic import HOST, atomic_dir, is_stale
from tweettwin.errors import (
    ConfigError,
    DatasetError,
    InputError,
    OutputError,
    OutputExistsError,
)
from tweettwin.ingest.clean import AuthorReport, Cleaner
from tweettwin.ingest.dataset import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    SPLIT_KEY,
    TRAIN_FILE,
    VALIDATION_FILE,
    SplitWriter,
    file_sha256,
    is_dataset_dir,
    write_manifest,
)
from tweettwin.ingest.options import PrepareOptions
from tweettwin.workspace import Workspace

# progress(stage, count): stage "read" counts posts read so far, "write" lines written.
Progress = Callable[[str, int], None]
_PROGRESS_EVERY = 4096
# No platform allows posts anywhere near this long (X: 25,000; Mastodon: 500 by default):
# a longer "post" is a wrong column or a broken file, and would cost minutes to clean.
MAX_POST_CHARS = 100_000
_SPOOL_PREFIX = "tweettwin-prepare-"
_JSON_KEYS = (
    "handle", "name", "downloaded", "retweets", "replies", "short", "duplicates",
    "excluded_private", "kept", "train", "validation",
)  # fmt: skip


@dataclass
class PrepareResult:
    output: Path
    manifest: dict
    authors: list[AuthorReport]
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None  # the registry's "prepare" run (set by tweettwin.pipeline)

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    def to_json(self) -> dict:
        """What ``tweettwin prepare --json`` prints."""
        authors = []
        for rep in self.authors:
            row = {key: getattr(rep, key) for key in _JSON_KEYS}
            row["dropped"] = rep.dropped()
            authors.append(row)
        return {
            "output": str(self.output),
            "authors": authors,
            "train": self.manifest["files"]["train.jsonl"]["posts"],
            "validation": self.manifest["files"]["validation.jsonl"]["posts"],
            "characters": self.manifest["characters"],
            "content_hash": self.content_hash,
            "warnings": self.warnings,
            "run_id": self.run_id,
        }


def default_output(handles: Sequence[str], workspace: Workspace | str | None = None) -> Path:
    """``<workspace>/<handle>[+<handle>...]/data``."""
    return Workspace.resolve(workspace).data_dir(handles)


def prepare(
    sources: Sequence[str | os.PathLike | Any],
    output: str | os.PathLike | None = None,
    options: PrepareOptions | None = None,
    *,
    source_options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    workspace: Workspace | str | os.PathLike | None = None,
) -> PrepareResult:
    """Import, clean and split ``sources`` (paths, or ready ``SourceData``) into a dataset folder.

    ``output`` defaults to ``<workspace>/<handle>/data`` (handles joined with ``+``); fetched
    SOURCEs go to the same ``workspace`` (default: $TWEETTWIN_WORKSPACE, else ``./tweettwin``).
    An existing dataset folder there is replaced atomically; any other existing folder is refused.
    ``source_options`` go to ``open_source`` (e.g. ``text_column``). Raises ``InputError`` for
    unreadable input and ``DatasetError`` when too little text is left to train on.
    """
    options = options or PrepareOptions()
    if not sources:
        raise ConfigError(
            "give at least one SOURCE: an X archive (.zip or folder), a Mastodon export, "
            "or a CSV/JSON/text file"
        )
    ws = Workspace.resolve(workspace)
    opened = [_open(spec, {**(source_options or {}), "workspace": ws}) for spec in sources]
    if output is not None:
        _check_output(Path(output))
    cleaner = Cleaner(options, authors={h: a for sd in opened for h, a in sd.authors.items()})
    clean_stale_spools()
    with _spool_dir() as tmp:
        writer = SplitWriter(Path(tmp) / "kept.jsonl", options.split)
        try:
            with _writing(Path(tmp), "the temporary spool file"):
                _read_all(opened, cleaner, writer, progress)
        finally:
            writer.close()
        reports = list(cleaner.reports.values())
        warnings = _check_amount(reports, cleaner, options)
        out = Path(output) if output is not None else ws.data_dir([r.handle for r in reports])
        _check_output(out)
        inputs = _hash_inputs(opened)
        with _writing(out, "the dataset"), atomic_dir(out, overwrite=True) as folder:
            split = writer.finish(
                folder, options.validation_fraction, options.min_validation, progress
            )
            _check_split(split)
            for rep in reports:
                rep.train, rep.validation = split.per_author.get(rep.handle, (0, 0))
            manifest = _manifest(opened, inputs, options, reports, split)
            write_manifest(folder, manifest)
            _carry_user_files(out, folder)
    return PrepareResult(out, manifest, reports, warnings)


def _spool_dir():
    # The pid in the name lets a later run tell a killed run's spool from a running one's.
    try:
        return tempfile.TemporaryDirectory(prefix=f"{_SPOOL_PREFIX}{os.getpid()}-{HOST}-")
    except OSError as ex:
        raise OutputError(
            f"cannot create a temporary folder in {tempfile.gettempdir()} ({ex.strerror}); "
            "free some space there or set TMPDIR to another folder"
        ) from None


def clean_stale_spools(root: str | os.PathLike | None = None) -> None:
    """Remove ``tweettwin-prepare-*`` spool folders of killed runs (ours only) from the temp dir."""
    root = Path(root or tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            if not entry.name.startswith(_SPOOL_PREFIX):
                continue
            with contextlib.suppress(OSError):
                st = entry.lstat()
                mine = st.st_uid == os.getuid() and entry.is_dir() and not entry.is_symlink()
                if mine and is_stale(entry, entry.name[len(_SPOOL_PREFIX) :]):
                    shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def _writing(where: Path, what: str):
    """A full or read-only disk, or a path through a file, as one line instead of a traceback."""
    try:
        yield
    except OSError as ex:  # shutil.Error (copying the user's files) included
        detail = ex.strerror or " ".join(str(ex).split())[:200] or type(ex).__name__
        raise OutputError(
            f"cannot write {what} to {where} ({detail}): "
            "check that the disk has space and is writable, or choose another -o DIR"
        ) from None


def _check_split(split) -> None:
    if split.train.posts == 0:
        raise DatasetError(
            f"no post is left for training ({split.validation.posts} went to validation): "
            "add more posts, or relax a rule (see tweettwin prepare --help)"
        )


# The files prepare writes; anything else in a dataset folder is the user's and is kept.
_DATASET_FILES = frozenset((TRAIN_FILE, VALIDATION_FILE, MANIFEST_FILE))


def _carry_user_files(out: Path, folder: Path) -> None:
    """Hard-link (or copy) the user's own files of the previous ``out`` into the new folder,
    so replacing the dataset keeps them; the old folder keeps its links until the swap."""
    if not out.is_dir():
        return
    for entry in out.iterdir():
        if entry.name in _DATASET_FILES:
            continue
        target = folder / entry.name
        if entry.is_dir() and not entry.is_symlink():
            try:
                shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
            except RecursionError:  # copytree recurses: the old dataset stays as it was
                raise OutputError(
                    f"{entry}: folders nested too deeply to keep in the new dataset; "
                    f"move it out of {out} first"
                ) from None
        else:
            _link_or_copy(entry, target)


def _link_or_copy(src, dst) -> None:
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst)


def _open(spec, source_options: Mapping[str, Any]):
    if hasattr(spec, "posts") and hasattr(spec, "files"):  # already a SourceData
        return spec
    from tweettwin.ingest.sources import open_source

    kwargs = {k: v for k, v in source_options.items() if v is not None}
    return open_source(os.fspath(spec), **kwargs)


def _read_all(opened, cleaner: Cleaner, writer: SplitWriter, progress: Progress | None) -> None:
    feed, add = cleaner.feed, writer.add
    count = 0
    for sd in opened:
        for post in sd.posts:
            if len(post.text) > MAX_POST_CHARS:
                raise _too_long(sd, post)
            text = feed(post)
            if text is not None:
                add(text, post.id, post.author, post.created_at, post.source or sd.kind)
            count += 1
            if progress is not None and not count % _PROGRESS_EVERY:
                progress("read", count)
    if progress is not None:
        progress("read", count)


def _too_long(sd, post) -> InputError:
    shown = post.id if len(post.id) <= 40 else post.id[:37] + "..."
    return InputError(
        f"{sd.spec}: post {shown!r} has {len(post.text):,} characters, more than any platform "
        f"allows ({MAX_POST_CHARS:,}); this is not a post: check --text-column, or remove it"
    )


def _check_amount(
    reports: list[AuthorReport], cleaner: Cleaner, options: PrepareOptions
) -> list[str]:
    """Too little text is an error (or a warning) saying how much was kept and what removed it."""
    total = cleaner.totals()
    if total.downloaded == 0:
        raise DatasetError(
            "the sources hold no posts at all: check that you gave the right file or folder"
        )
    if total.chars < options.min_chars:
        raise DatasetError(
            f"only {total.chars:,} characters in {total.kept:,} posts were kept "
            f"of {total.downloaded:,} "
            f"read{_removed_summary(total)}; training needs at least {options.min_chars:,}: "
            "add more posts (more SOURCEs or a fuller archive) "
            "or relax a rule (see tweettwin prepare --help)"
        )
    if total.chars < options.warn_chars:
        return [
            f"only {total.chars:,} characters ({total.kept:,} posts) were kept"
            f"{_removed_summary(total)}; "
            f"a twin learns a voice better from {options.warn_chars:,} or more"
        ]
    return []


def _removed_summary(total: AuthorReport) -> str:
    removed = sorted(((n, k) for k, n in total.dropped().items() if n), reverse=True)
    if not removed:
        return ""
    return " (removed: " + ", ".join(f"{k.replace('_', ' ')} {n:,}" for n, k in removed) + ")"


def _check_output(out: Path) -> None:
    """Replace only a previous dataset (or an empty folder), never an unrelated folder; and
    say so at once when the folder cannot be created at all."""
    try:
        exists = out.exists()
        if exists and not (out.is_dir() and (not any(out.iterdir()) or is_dataset_dir(out))):
            raise OutputExistsError(
                f"{out} exists and is not a tweettwin dataset folder: "
                "choose another -o DIR or remove it"
            )
        if not exists:
            _check_parents(out)
    except OSError as ex:
        raise OutputError(
            f"-o {out}: cannot be used ({ex.strerror}); choose another -o DIR"
        ) from None


def _check_parents(out: Path) -> None:
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(
                    f"-o {out}: {parent} is a file, not a folder; choose another -o DIR"
                )
            return
        if parent.is_symlink():  # a dangling link where a folder should be
            raise OutputError(f"-o {out}: {parent} is a broken link; choose another -o DIR")


def _hash_inputs(opened) -> list[dict]:
    inputs = []
    for sd in opened:
        base = Path(sd.spec).resolve().parent if getattr(sd, "spec", None) else None
        for f in sd.files:
            digest, size = file_sha256(f)
            inputs.append({"path": _display_path(Path(f), base), "sha256": digest, "bytes": size})
    return inputs


def _display_path(path: Path, base: Path | None) -> str:
    # Relative to the folder that holds the SOURCE: stable across machines, no home directory.
    if base is not None:
        try:
            return path.resolve().relative_to(base).as_posix()
        except ValueError:
            pass
    return path.name


def _manifest(opened, inputs, options: PrepareOptions, reports: list[AuthorReport], split) -> dict:
    total_chars = sum(r.chars for r in reports)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "content_hash": split.content_hash,
        "files": {
            "train.jsonl": split.train.to_dict(),
            "validation.jsonl": split.validation.to_dict(),
        },
        "characters": total_chars,
        "inputs": inputs,
        "sources": [
            {"name": Path(str(sd.spec)).name, "kind": sd.kind, "authors": sorted(sd.authors)}
            for sd in opened
        ],
        "options": options.to_dict(),
        "split": {
            "method": options.split,
            "key": SPLIT_KEY if options.split == "hash" else "created_at (newest held out)",
            "requested_fraction": options.validation_fraction,
            "validation_fraction": split.fraction,
            "min_validation": options.min_validation,
        },
        "authors": [r.to_dict() for r in reports],
    }
