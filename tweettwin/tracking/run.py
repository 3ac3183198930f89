"""A live run: what a pipeline step records as it goes (config, inputs, metrics, outputs).

The registry must never stop the job it records: when ``runs.db`` is damaged, locked past a
short timeout, or the run folder cannot be written, the run warns once
(:class:`~tweettwin.errors.TweettwinWarning`, saying how to fix it) and the job goes on
unrecorded. External reporters (W&B, MLflow...) still get every update.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tweettwin.errors import ConfigError, RegistryError, TweettwinWarning
from tweettwin.model_folder import TrainingRecord, read_json_object
from tweettwin.redaction import scrub
from tweettwin.tracking import safety
from tweettwin.tracking.hashing import artifact_hash, as_sha, model_hash, new_run_id, sha256_file
from tweettwin.tracking.migrations import now
from tweettwin.tracking.registry import (
    RunRecord,
    WorkspaceLike,
    connect,
    get_run,
    registry_error,
    write_run_json,
)
from tweettwin.workspace import Workspace

STATUSES = ("running", "completed", "failed", "interrupted")


def jsonable(value: Any) -> Any:
    """``value`` scrubbed of secrets and reduced to plain JSON types."""
    return json.loads(json.dumps(scrub(value), default=str))


Write = Callable[[sqlite3.Connection], None]
_FIX_FOLDER = "; make the workspace (--workspace, $TWEETTWIN_WORKSPACE) a writable folder"


class Run:
    """A live run. Use it as a context manager, or call :meth:`finish` yourself."""

    def __init__(
        self, id: str, kind: str, ws: WorkspaceLike, run_dir: Path, reporters: list
    ) -> None:
        self.id = id
        self.kind = kind
        self.workspace = Workspace.resolve(ws)
        self.dir = run_dir
        self.reporters = reporters
        self.status = "running"
        self.recorded = True  # False once the registry failed: the job goes on unrecorded
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.status != "running":
            return
        if exc_type is None:
            self.finish("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("interrupted", error="interrupted by the user (Ctrl-C)")
        else:
            self.finish("failed", error=f"{exc_type.__name__}: {exc}")

    # -- logging --------------------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Merge ``params`` into the run's parameters (scrubbed of secrets)."""
        params = jsonable(dict(params))
        self._write(lambda db: self._merge(db, "params", params))
        self._fan_out("log_params", params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record numeric metrics at ``step`` (the registry, metrics.jsonl and every reporter)."""
        values = {k: float(v) for k, v in metrics.items() if _is_number(v)}
        if not values:
            return
        stamp = now()
        rows = [(self.id, int(step), k, v, stamp) for k, v in values.items()]

        def write(db: sqlite3.Connection) -> None:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)
            self._merge(db, "summary", values)

        with self._lock:
            self._append_metrics({"step": int(step), "time": stamp, **values})
            self._write(write)
        self._fan_out("log_metrics", values, int(step))

    def add_input(
        self,
        path: str | os.PathLike,
        sha256: str | None = None,
        bytes: int | None = None,
        kind: str = "raw-data",
    ) -> None:
        """Record an input file (hashed here when ``sha256`` is not given)."""
        p = Path(path)
        sha256 = as_sha(sha256) if sha256 else sha256_file(p)
        size = bytes if bytes is not None else (p.stat().st_size if p.is_file() else None)
        row = (self.id, str(p.resolve()) if p.exists() else str(p), sha256, size)
        self._write(
            lambda db: db.execute("INSERT OR REPLACE INTO run_inputs VALUES (?, ?, ?, ?)", row)
        )
        self._fan_out("use_input", p, sha256, kind)

    # -- pipeline helpers: what prepare / train / make record -----------------------------
    def log_dataset(
        self,
        dataset_dir: str | os.PathLike,
        sources: Iterable[Any] = (),
        manifest: Mapping | None = None,
    ) -> None:
        """For a prepare run: the raw input files (located on disk) and the dataset made
        (``manifest``: the dataset's manifest if the caller has it, else read from the folder)."""
        dataset_dir = Path(dataset_dir)
        if manifest is None:
            manifest = read_json_object(dataset_dir / "manifest.json", missing_ok=True) or {}
        # The manifest keeps paths relative to each SOURCE's folder; find them on this machine.
        bases = [Path(os.fspath(s)).resolve().parent for s in sources if _is_pathlike(s)]
        for item in manifest.get("inputs", []):
            rel = str(item.get("path", ""))
            found = next((b / rel for b in bases if (b / rel).is_file()), Path(rel))
            self.add_input(found, item.get("sha256") or None, item.get("bytes"))
        self.log_artifact(dataset_dir, "dataset", manifest.get("content_hash"))

    def use_dataset(self, dataset_dir: str | os.PathLike) -> None:
        """For a train run: the dataset folder it reads (an input, linked to its prepare run)."""
        dataset_dir = Path(dataset_dir)
        manifest = read_json_object(dataset_dir / "manifest.json", missing_ok=True) or {}
        content_hash = manifest.get("content_hash")
        if not content_hash:
            return
        self.add_input(dataset_dir, content_hash, kind="dataset")
        self.set_lineage(dataset_hash=content_hash, dataset_dir=str(dataset_dir.resolve()))

    def log_model(self, model_dir: str | os.PathLike) -> str:
        """For a train run: the model folder made, with its lineage from ``training.json``."""
        model_dir = Path(model_dir)
        training = TrainingRecord.read(model_dir)
        fields = {
            "base_model": training.base_model_id,
            "base_model_hash": training.base_model_hash,
            "dataset_hash": training.dataset_hash,
        }
        self.set_lineage(**{k: v for k, v in fields.items() if v})
        digest = model_hash(model_dir)
        self.log_artifact(model_dir, "model", digest)
        return digest

    def set_lineage(self, **fields: Any) -> None:
        """Merge lineage fields: ``dataset_hash``, ``dataset_dir``, ``base_model``,
        ``base_model_hash``, ``model_hash``, ``model_dir``... (any JSON-able values)."""
        fields = jsonable(fields)
        merged: dict = {}

        def write(db: sqlite3.Connection) -> None:
            merged.update(self._merge(db, "lineage", fields))
            db.execute(
                "UPDATE runs SET dataset_hash = ?, model_hash = ? WHERE id = ?",
                (merged.get("dataset_hash"), merged.get("model_hash"), self.id),
            )

        self._write(write)
        # reporters get the whole lineage; an unrecorded run knows only this call's fields
        self._fan_out("set_lineage", merged or fields)

    def log_artifact(self, path: str | os.PathLike, kind: str, sha256: str | None = None) -> None:
        """Record an output (``kind``: dataset, model, card, preview, plot...)."""
        p = Path(path)
        if sha256 is None:
            sha256 = artifact_hash(p, kind)
        row = (self.id, str(p.resolve()), kind, sha256, now())
        self._write(
            lambda db: db.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)", row)
        )
        if kind == "model" and sha256:
            self.set_lineage(model_hash=sha256, model_dir=str(p.resolve()))
        if kind == "dataset" and sha256:
            self.set_lineage(dataset_hash=sha256, dataset_dir=str(p.resolve()))
        self._fan_out("log_artifact", p, kind, sha256)

    def finish(
        self,
        status: str = "completed",
        outputs: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Close the run. Safe to call twice: the first status wins."""
        if status not in STATUSES or status == "running":
            raise ConfigError(
                f"finish(status={status!r}): use one of completed, failed, interrupted"
            )
        with self._lock:
            if self.status != "running":
                return
            self.status = status
        outputs = jsonable(dict(outputs or {}))

        def write(db: sqlite3.Connection) -> None:
            self._merge(db, "outputs", outputs)
            db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                (status, now(), scrub(error), self.id),
            )

        self._write(write)
        safety.forget(self)
        self._fan_out("finish", status)
        self._close()
        if self.recorded:
            write_run_json(self.workspace, self.id)

    def record(self) -> RunRecord:
        return get_run(self.id, workspace=self.workspace)

    # -- the registry, guarded ------------------------------------------------------------
    def _create(self, name: str | None, config: dict) -> None:
        """The run's folder (config.json, metrics.jsonl) and its row in the registry."""
        try:
            self.dir.mkdir(parents=True, exist_ok=False)
            (self.dir / "config.json").write_text(
                json.dumps(config, indent=2, sort_keys=True) + "\n"
            )
            (self.dir / "metrics.jsonl").touch()
        except OSError as ex:
            self._give_up(f"cannot write its folder {self.dir} ({ex.strerror or ex}){_FIX_FOLDER}")
            return
        row = (
            self.id,
            self.kind,
            name,
            now(),
            os.getpid(),
            socket.gethostname(),
            json.dumps(config),
            str(self.dir.resolve()),
        )
        self._write(
            lambda db: db.execute(
                "INSERT INTO runs (id, kind, name, status, started_at, pid, host, config, run_dir)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                row,
            )
        )

    def _write(self, write: Write) -> None:
        """Apply ``write`` to the registry, unless an earlier write failed; a failure warns."""
        with self._lock:
            if not self.recorded:
                return
            try:
                # One connection per live run (a training loop logs often); the lock
                # serialises threads.
                if self._conn is None:
                    self._conn = connect(self.workspace, check_same_thread=False)
                write(self._conn)
            except sqlite3.Error as ex:
                self._give_up(str(registry_error(self.workspace, ex)))
            except RegistryError as ex:
                self._give_up(str(ex))

    def _merge(self, db: sqlite3.Connection, column: str, values: Mapping[str, Any]) -> dict:
        """Merge ``values`` into the JSON object in ``column``; returns the merged object."""
        row = db.execute(f"SELECT {column} FROM runs WHERE id = ?", (self.id,)).fetchone()
        merged = {**json.loads(row[column]), **values}
        db.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (json.dumps(merged), self.id))
        return merged

    def _append_metrics(self, row: dict) -> None:
        if not self.recorded:
            return
        try:
            with open(self.dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        except OSError as ex:
            where = self.dir / "metrics.jsonl"
            self._give_up(f"cannot write {where} ({ex.strerror or ex}){_FIX_FOLDER}")

    def _give_up(self, reason: str) -> None:
        # Said once per run, in the same words for every run, so `make` (two runs) warns once.
        self.recorded = False
        self._close()
        warnings.warn(f"not recording this run: {reason}", TweettwinWarning, stacklevel=4)

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    def _fan_out(self, method: str, *args: Any) -> None:
        # A tracker failing mid-run (network, quota) must not cost the training run: warn once
        # and stop reporting to it; the local record stays complete.
        for reporter in list(self.reporters):
            try:
                getattr(reporter, method)(*args)
            except Exception as ex:
                self.reporters.remove(reporter)
                warnings.warn(
                    f"{type(reporter).__name__} failed ({type(ex).__name__}: {scrub(str(ex))}); "
                    "it gets no more updates from this run",
                    RuntimeWarning,
                    stacklevel=3,
                )


def _is_pathlike(value: Any) -> bool:
    # SOURCE specs may be remote ("mastodon:@me@host") or SourceData objects: only paths count.
    return isinstance(value, (str, os.PathLike)) and ":" not in str(value)[2:] and bool(str(value))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # drop NaN


def start_run(
    kind: str,
    config: Mapping[str, Any] | None = None,
    *,
    workspace: WorkspaceLike = None,
    report_to: Iterable[str] | str | None = (),
    name: str | None = None,
    reporter_options: Mapping[str, Any] | None = None,
) -> Run:
    """Open a run of ``kind`` (prepare, train, eval, fetch, make...) and return it.

    ``report_to`` names external trackers (wandb, mlflow, tensorboard); they are checked before the
    run is created, so a missing library fails before any work starts.
    """
    from tweettwin.tracking import reporters as _reporters

    names = _reporters.parse_report_to(report_to)
    _reporters.check_available(names)
    ws = Workspace.resolve(workspace)
    run_id = new_run_id()
    config = jsonable(dict(config or {}))
    run = Run(run_id, kind, ws, ws.runs_dir / run_id, [])
    run._create(name, config)
    try:
        run.reporters = _reporters.create(names, run, config, **dict(reporter_options or {}))
    except BaseException as ex:
        run.finish("failed", error=f"{type(ex).__name__}: {ex}")
        raise
    safety.watch(run)
    return run
