"""``prepare``: read every SOURCE, clean the posts, and write one versioned dataset folder.

One streaming pass reads and cleans (memory holds 8-byte digests and split keys, not posts);
a second pass over a temporary spool file writes the split. Nothing is written to the output
folder until the whole input has been read and judged usable, and the folder then appears in
one rename.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tweettwin import __version__
from tweettwin.atomic import atomic_dir
from tweettwin.clean import AuthorReport, Cleaner
from tweettwin.config import PrepareOptions
from tweettwin.dataset import (
    FORMAT,
    FORMAT_VERSION,
    SPLIT_KEY,
    SplitWriter,
    file_sha256,
    is_dataset_dir,
    write_manifest,
)
from tweettwin.errors import ConfigError, DatasetError, OutputExistsError
from tweettwin.workspace import Workspace

# progress(stage, count): stage "read" counts posts read so far, "write" lines written.
Progress = Callable[[str, int], None]
_PROGRESS_EVERY = 4096
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
    with tempfile.TemporaryDirectory(prefix="tweettwin-prepare-") as tmp:
        writer = SplitWriter(Path(tmp) / "kept.jsonl", options.split)
        try:
            _read_all(opened, cleaner, writer, progress)
        finally:
            writer.close()
        reports = list(cleaner.reports.values())
        warnings = _check_amount(reports, cleaner, options)
        out = Path(output) if output is not None else ws.data_dir([r.handle for r in reports])
        _check_output(out)
        inputs = _hash_inputs(opened)
        with atomic_dir(out, overwrite=True) as folder:
            split = writer.finish(
                folder, options.validation_fraction, options.min_validation, progress
            )
            for rep in reports:
                rep.train, rep.validation = split.per_author.get(rep.handle, (0, 0))
            manifest = _manifest(opened, inputs, options, reports, split)
            write_manifest(folder, manifest)
    return PrepareResult(out, manifest, reports, warnings)


def _open(spec, source_options: Mapping[str, Any]):
    if hasattr(spec, "posts") and hasattr(spec, "files"):  # already a SourceData
        return spec
    from tweettwin.sources import open_source

    kwargs = {k: v for k, v in source_options.items() if v is not None}
    return open_source(os.fspath(spec), **kwargs)


def _read_all(opened, cleaner: Cleaner, writer: SplitWriter, progress: Progress | None) -> None:
    feed, add = cleaner.feed, writer.add
    count = 0
    for sd in opened:
        for post in sd.posts:
            text = feed(post)
            if text is not None:
                add(text, post.id, post.author, post.created_at, post.source or sd.kind)
            count += 1
            if progress is not None and not count % _PROGRESS_EVERY:
                progress("read", count)
    if progress is not None:
        progress("read", count)


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
    """Replace only a previous dataset (or an empty folder), never an unrelated folder."""
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or is_dataset_dir(out))):
        raise OutputExistsError(
            f"{out} exists and is not a tweettwin dataset folder: "
            "choose another -o DIR or remove it"
        )


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
