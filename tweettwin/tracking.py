"""Local run tracking: every pipeline step leaves a record, with no account and no server.

The index is one SQLite file, ``<workspace>/runs.db`` (WAL mode, so ``tweettwin runs`` can read
while a training run writes). Each run also gets a folder, ``<workspace>/runs/<run_id>/``, holding
``config.json``, ``metrics.jsonl`` and ``run.json`` (the record as JSON, readable without SQLite).

    with start_run("train", {"lr": 3e-4}, report_to=["tensorboard"]) as run:
        run.add_input("data.zip", sha256)
        run.log_metrics({"loss": 2.1}, step=10)
        run.set_lineage(dataset_hash=..., base_model=..., base_model_hash=...)
        run.finish(outputs={"model_dir": "out", "model_hash": model_hash("out")})

Leaving the ``with`` block on an exception marks the run "failed"; on Ctrl-C "interrupted". A run
whose process died without either (SIGKILL, power cut) is marked "interrupted" the next time the
registry is read, because its pid is gone. Secrets never reach disk: see :func:`scrub`.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tweettwin.errors import ConfigError, InputError
from tweettwin.model_folder import TrainingRecord, read_json_object, read_model_folder, weights_hash
from tweettwin.paths import workspace as _workspace

STATUSES = ("running", "completed", "failed", "interrupted")
DB_NAME = "runs.db"
RUNS_DIR = "runs"

# --------------------------------------------------------------------------------------------
# ids, hashes, secrets


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_run_id(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32, so ids sort by time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def sha256_file(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of a file's bytes (streamed, so large weights need little memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def model_hash(model_dir: str | os.PathLike) -> str:
    """A model folder's weights hash (:func:`tweettwin.model_folder.weights_hash`)."""
    return weights_hash(model_dir)


_SECRET_KEY = re.compile(r"token|secret|passw|api[_-]?key|auth|bearer|credential|cookie", re.I)
_SECRET_VALUE = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|AAAA[A-Za-z0-9%]{40,}|sk-[A-Za-z0-9_-]{20,})\b")
_SECRET_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "X_BEARER_TOKEN",
    "WANDB_API_KEY",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MASTODON_TOKEN",
    "BLUESKY_PASSWORD",
)
REDACTED = "***"


def _known_secrets() -> list[str]:
    values = [os.environ.get(name, "") for name in _SECRET_ENV]
    values += [
        v for k, v in os.environ.items() if _SECRET_KEY.search(k) and k.startswith("TWEETTWIN_")
    ]
    return [v for v in values if len(v) >= 8]


def scrub(value: Any, _known: list[str] | None = None) -> Any:
    """Copy of ``value`` with secrets replaced by ``***``.

    Three nets: dict keys that look secret (token, password, api_key...), the values of known
    secret environment variables wherever they appear in a string, and strings shaped like
    well-known tokens (``hf_...``, X bearer tokens).
    """
    known = _known_secrets() if _known is None else _known
    if isinstance(value, Mapping):
        return {
            str(k): (
                REDACTED
                if _SECRET_KEY.search(str(k)) and v not in (None, "", False)
                else scrub(v, known)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub(v, known) for v in value]
    if isinstance(value, str):
        for secret in known:
            value = value.replace(secret, REDACTED)
        return _SECRET_VALUE.sub(REDACTED, value)
    if isinstance(value, Path):
        return str(value)
    return value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(scrub(value), default=str))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# the database: append-only migrations


def _statements(db: sqlite3.Connection, sql: str) -> None:
    # Not executescript(): it commits first, which would break the migration's transaction.
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _m001_runs(db: sqlite3.Connection) -> None:
    _statements(
        db,
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, status TEXT NOT NULL,
            started_at TEXT NOT NULL, ended_at TEXT, pid INTEGER, host TEXT,
            config TEXT NOT NULL DEFAULT '{}', params TEXT NOT NULL DEFAULT '{}',
            lineage TEXT NOT NULL DEFAULT '{}', outputs TEXT NOT NULL DEFAULT '{}',
            summary TEXT NOT NULL DEFAULT '{}', error TEXT, run_dir TEXT NOT NULL
        );
        CREATE INDEX runs_kind ON runs(kind);
        CREATE TABLE run_inputs (
            run_id TEXT NOT NULL REFERENCES runs(id), path TEXT NOT NULL, sha256 TEXT NOT NULL,
            bytes INTEGER, PRIMARY KEY (run_id, path)
        );
        CREATE INDEX run_inputs_sha ON run_inputs(sha256);
        CREATE TABLE artifacts (
            run_id TEXT NOT NULL REFERENCES runs(id), path TEXT NOT NULL, kind TEXT NOT NULL,
            sha256 TEXT, created_at TEXT NOT NULL, PRIMARY KEY (run_id, path)
        );
        CREATE INDEX artifacts_sha ON artifacts(sha256);
        CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, key TEXT NOT NULL,
            value REAL NOT NULL, logged_at TEXT NOT NULL
        );
        CREATE INDEX metrics_run ON metrics(run_id, key, step);
        """,
    )


def _m002_lineage_index(db: sqlite3.Connection) -> None:
    # Model and dataset hashes are looked up by `runs lineage`: index them as plain columns.
    _statements(
        db,
        """
        ALTER TABLE runs ADD COLUMN dataset_hash TEXT;
        ALTER TABLE runs ADD COLUMN model_hash TEXT;
        CREATE INDEX runs_dataset_hash ON runs(dataset_hash);
        CREATE INDEX runs_model_hash ON runs(model_hash);
        """,
    )


# Append only: never edit or reorder an entry that has shipped.
MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("m001_runs", _m001_runs),
    ("m002_lineage_index", _m002_lineage_index),
]


def connect(
    ws: str | os.PathLike | None = None, check_same_thread: bool = True
) -> sqlite3.Connection:
    """Open (and migrate) ``<workspace>/runs.db`` in WAL mode (readers never wait for writers)."""
    root = _workspace(ws)
    root.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        root / DB_NAME, timeout=30, isolation_level=None, check_same_thread=check_same_thread
    )
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL keeps it consistent
    db.execute("PRAGMA foreign_keys = ON")
    _migrate(db)
    return db


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
    pending = [(n, f) for n, f in MIGRATIONS if n not in done]
    if not pending:
        return
    db.execute("BEGIN IMMEDIATE")  # one writer migrates; others wait, then see it done
    try:
        done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
        for name, fn in pending:
            if name in done:
                continue
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, _now()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _db(ws: str | os.PathLike | None) -> Iterator[sqlite3.Connection]:
    db = connect(ws)
    try:
        yield db
    finally:
        db.close()


# --------------------------------------------------------------------------------------------
# a run


@dataclass
class RunRecord:
    """A run as stored: what ``list_runs``/``get_run`` return."""

    id: str
    kind: str
    name: str | None
    status: str
    started_at: str
    ended_at: str | None
    config: dict
    params: dict
    lineage: dict
    outputs: dict
    summary: dict
    error: str | None
    run_dir: Path
    pid: int | None = None
    inputs: list[dict] = field(default_factory=list)
    artifacts: list[dict] = field(default_factory=list)

    def metrics(self) -> list[dict]:
        """Every logged metric row, oldest first, from ``metrics.jsonl``."""
        path = self.run_dir / "metrics.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["run_dir"] = str(self.run_dir)
        return d


_ACTIVE: dict[str, Run] = {}
_ACTIVE_LOCK = threading.Lock()


class Run:
    """A live run. Use it as a context manager, or call :meth:`finish` yourself."""

    def __init__(self, id: str, kind: str, ws: Path, run_dir: Path, reporters: list) -> None:
        self.id = id
        self.kind = kind
        self.workspace = ws
        self.dir = run_dir
        self.reporters = reporters
        self.status = "running"
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
        params = _jsonable(dict(params))
        with self._db() as db:
            row = db.execute("SELECT params FROM runs WHERE id = ?", (self.id,)).fetchone()
            merged = {**json.loads(row["params"]), **params}
            db.execute("UPDATE runs SET params = ? WHERE id = ?", (json.dumps(merged), self.id))
        self._fan_out("log_params", params)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record numeric metrics at ``step`` (the registry, metrics.jsonl and every reporter)."""
        values = {k: float(v) for k, v in metrics.items() if _is_number(v)}
        if not values:
            return
        now = _now()
        with self._lock:
            with open(self.dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": int(step), "time": now, **values}) + "\n")
            with self._db() as db:
                db.executemany(
                    "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                    [(self.id, int(step), k, v, now) for k, v in values.items()],
                )
                row = db.execute("SELECT summary FROM runs WHERE id = ?", (self.id,)).fetchone()
                summary = {**json.loads(row["summary"]), **values}
                db.execute(
                    "UPDATE runs SET summary = ? WHERE id = ?", (json.dumps(summary), self.id)
                )
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
        sha256 = _as_sha(sha256) if sha256 else sha256_file(p)
        size = bytes if bytes is not None else (p.stat().st_size if p.is_file() else None)
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO run_inputs VALUES (?, ?, ?, ?)",
                (self.id, str(p.resolve()) if p.exists() else str(p), sha256, size),
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
        fields = _jsonable(fields)
        with self._db() as db:
            row = db.execute("SELECT lineage FROM runs WHERE id = ?", (self.id,)).fetchone()
            lineage = {**json.loads(row["lineage"]), **fields}
            db.execute(
                "UPDATE runs SET lineage = ?, dataset_hash = ?, model_hash = ? WHERE id = ?",
                (
                    json.dumps(lineage),
                    lineage.get("dataset_hash"),
                    lineage.get("model_hash"),
                    self.id,
                ),
            )
        self._fan_out("set_lineage", lineage)

    def log_artifact(self, path: str | os.PathLike, kind: str, sha256: str | None = None) -> None:
        """Record an output (``kind``: dataset, model, card, preview, plot...)."""
        p = Path(path)
        if sha256 is None and p.is_file():
            sha256 = sha256_file(p)
        elif sha256 is None and kind == "model" and p.is_dir():
            sha256 = model_hash(p)
        elif sha256 is None and kind == "dataset" and (p / "manifest.json").is_file():
            sha256 = read_json_object(p / "manifest.json").get("content_hash")
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)",
                (self.id, str(p.resolve()), kind, sha256, _now()),
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
        with self._db() as db:
            row = db.execute("SELECT outputs FROM runs WHERE id = ?", (self.id,)).fetchone()
            merged = {**json.loads(row["outputs"]), **_jsonable(dict(outputs or {}))}
            db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, outputs = ?, error = ? WHERE id = ?",
                (status, _now(), json.dumps(merged), scrub(error), self.id),
            )
        with _ACTIVE_LOCK:
            _ACTIVE.pop(self.id, None)
        self._fan_out("finish", status)
        self._close()
        _write_run_json(self.workspace, self.id)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # One connection per live run (a training loop logs often); the lock serialises threads.
        with self._lock:
            if self._conn is None:
                self._conn = connect(self.workspace, check_same_thread=False)
            yield self._conn

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def record(self) -> RunRecord:
        return get_run(self.id, workspace=self.workspace)

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
    workspace: str | os.PathLike | None = None,
    report_to: Iterable[str] | str | None = (),
    name: str | None = None,
    reporter_options: Mapping[str, Any] | None = None,
) -> Run:
    """Open a run of ``kind`` (prepare, train, eval, fetch, make...) and return it.

    ``report_to`` names external trackers (wandb, mlflow, tensorboard); they are checked before the
    run is created, so a missing library fails before any work starts.
    """
    from tweettwin import reporters as _reporters

    names = _reporters.parse_report_to(report_to)
    _reporters.check_available(names)
    ws = _workspace(workspace)
    run_id = new_run_id()
    run_dir = ws / RUNS_DIR / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    config = _jsonable(dict(config or {}))
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (run_dir / "metrics.jsonl").touch()
    with _db(ws) as db:
        db.execute(
            "INSERT INTO runs (id, kind, name, status, started_at, pid, host, config, run_dir)"
            " VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            (
                run_id,
                kind,
                name,
                _now(),
                os.getpid(),
                socket.gethostname(),
                json.dumps(config),
                str(run_dir.resolve()),
            ),
        )
    run = Run(run_id, kind, ws, run_dir, [])
    try:
        run.reporters = _reporters.create(names, run, config, **dict(reporter_options or {}))
    except BaseException as ex:
        run.finish("failed", error=f"{type(ex).__name__}: {ex}")
        raise
    with _ACTIVE_LOCK:
        _ACTIVE[run_id] = run
    _install_safety_net()
    return run


# --------------------------------------------------------------------------------------------
# safety net: nothing stays "running" forever

_NET_INSTALLED = False


def _interrupt_active(reason: str) -> None:
    with _ACTIVE_LOCK:
        runs = list(_ACTIVE.values())
    for run in runs:
        with contextlib.suppress(Exception):
            run.finish("interrupted", error=reason)


def _install_safety_net() -> None:
    global _NET_INSTALLED
    if _NET_INSTALLED:
        return
    _NET_INSTALLED = True
    atexit.register(_interrupt_active, "the process exited before the run finished")
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return  # someone (accelerate, a web server) owns SIGTERM: rely on atexit + pid check

    def on_sigterm(signum, frame):
        _interrupt_active("terminated (SIGTERM)")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale(db: sqlite3.Connection) -> None:
    """Mark "running" runs of this host whose process is gone as interrupted."""
    host = socket.gethostname()
    rows = db.execute("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (host,))
    for row in rows.fetchall():
        if row["pid"] and not _pid_alive(row["pid"]):
            db.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? "
                "WHERE id = ? AND status = 'running'",
                (_now(), "its process ended without closing the run", row["id"]),
            )


# --------------------------------------------------------------------------------------------
# reading


def _record(db: sqlite3.Connection, row: sqlite3.Row) -> RunRecord:
    inputs = [
        dict(r)
        for r in db.execute(
            "SELECT path, sha256, bytes FROM run_inputs WHERE run_id = ? ORDER BY path",
            (row["id"],),
        )
    ]
    artifacts = [
        dict(r)
        for r in db.execute(
            "SELECT path, kind, sha256, created_at FROM artifacts WHERE run_id = ?"
            " ORDER BY created_at",
            (row["id"],),
        )
    ]
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        status=row["status"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        config=json.loads(row["config"]),
        params=json.loads(row["params"]),
        lineage=json.loads(row["lineage"]),
        outputs=json.loads(row["outputs"]),
        summary=json.loads(row["summary"]),
        error=row["error"],
        run_dir=Path(row["run_dir"]),
        pid=row["pid"],
        inputs=inputs,
        artifacts=artifacts,
    )


def list_runs(
    *,
    workspace: str | os.PathLike | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[RunRecord]:
    """Runs, newest first (ids sort by time). Stale "running" runs are marked interrupted."""
    if not (_workspace(workspace) / DB_NAME).exists():
        return []
    with _db(workspace) as db:
        _reap_stale(db)
        sql, args = "SELECT * FROM runs WHERE 1=1", []
        if kind:
            sql, args = sql + " AND kind = ?", [*args, kind]
        if status:
            sql, args = sql + " AND status = ?", [*args, status]
        sql += " ORDER BY id DESC"
        if limit:
            sql, args = sql + " LIMIT ?", [*args, int(limit)]
        return [_record(db, row) for row in db.execute(sql, args).fetchall()]


def get_run(run_id: str, *, workspace: str | os.PathLike | None = None) -> RunRecord:
    """One run by id, or by a unique prefix of its id (``runs show 01J9``)."""
    if not (_workspace(workspace) / DB_NAME).exists():
        raise InputError(f"no runs recorded yet in {_workspace(workspace)} (set --workspace?)")
    with _db(workspace) as db:
        _reap_stale(db)
        rows = db.execute(
            "SELECT * FROM runs WHERE id LIKE ? ORDER BY id DESC LIMIT 2", (run_id.upper() + "%",)
        ).fetchall()
        if not rows:
            raise InputError(
                f"no run {run_id!r} in {_workspace(workspace)}; `tweettwin runs` lists them"
            )
        if len(rows) > 1 and rows[0]["id"] != run_id.upper():
            raise InputError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return _record(db, rows[0])


def _write_run_json(ws: Path, run_id: str) -> None:
    with contextlib.suppress(Exception):
        rec = get_run(run_id, workspace=ws)
        (rec.run_dir / "run.json").write_text(
            json.dumps(rec.to_dict(), indent=2, default=str) + "\n"
        )


def _find_run(ws, column: str, value: str | None, kind: str | None = None) -> RunRecord | None:
    if not value or not (_workspace(ws) / DB_NAME).exists():
        return None
    with _db(ws) as db:
        sql = f"SELECT * FROM runs WHERE {column} = ? AND status = 'completed'"
        args = [value]
        if kind:
            sql, args = sql + " AND kind = ?", [*args, kind]
        row = db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return _record(db, row) if row else None


# --------------------------------------------------------------------------------------------
# lineage


def lineage(
    model_dir: str | os.PathLike, *, workspace: str | os.PathLike | None = None, verify: bool = True
) -> dict:
    """Walk a model folder back to the exact input files.

    model (weights hash, train run) -> base model (id, weights hash) -> dataset (content hash,
    prepare run) -> input files (path, sha256, bytes; with ``verify``, whether each file is still
    there with the same bytes). Works from the folder's own ``training.json`` and
    ``dataset_manifest.json``; the registry adds the runs that made each step.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(
            f"{model_dir}: not a folder; give a model folder made by `tweettwin train`"
        )
    folder = read_model_folder(model_dir, need_manifest=False)
    training, manifest = folder.training, folder.manifest
    digest = model_hash(model_dir)
    train_run = _find_run(workspace, "model_hash", digest)
    dataset_hash = manifest.get("content_hash") or training.dataset_hash
    prepare_run = _find_run(workspace, "dataset_hash", dataset_hash, kind="prepare")
    known = _known_locations(workspace, prepare_run)
    inputs = manifest.get("inputs") or (prepare_run.inputs if prepare_run else [])
    located = [_locate(i, known, verify) for i in inputs]
    return {
        "model": {
            "path": str(model_dir.resolve()),
            "sha256": digest,
            "run_id": train_run.id if train_run else None,
        },
        "base_model": {"id": training.base_model_id, "sha256": training.base_model_hash},
        "dataset": {
            "content_hash": dataset_hash,
            "run_id": prepare_run.id if prepare_run else None,
            "path": prepare_run.lineage.get("dataset_dir") if prepare_run else None,
        },
        "inputs": located,
    }


def _known_locations(ws, prepare_run: RunRecord | None) -> dict[str, str]:
    """sha256 -> absolute path, from the registry (the prepare run's inputs first).

    The dataset manifest stores paths relative to the SOURCE's folder (portable, no home
    directory); the registry knows where the files were on this machine."""
    found: dict[str, str] = {}
    if (_workspace(ws) / DB_NAME).exists():
        with _db(ws) as db:
            for row in db.execute("SELECT path, sha256 FROM run_inputs ORDER BY run_id"):
                found[_as_sha(row["sha256"])] = row["path"]
    for item in prepare_run.inputs if prepare_run else []:
        found[_as_sha(item["sha256"])] = item["path"]
    return found


def _locate(item: Mapping, known: Mapping[str, str], verify: bool) -> dict:
    sha = _as_sha(item.get("sha256"))
    recorded = str(item.get("path", ""))
    candidates = [known[sha]] if sha in known else []
    candidates.append(recorded)
    location = next((c for c in candidates if c and Path(c).is_file()), None)
    if not verify:
        status = "unchecked"
    elif location is None:
        status = "missing"
    else:
        status = "ok" if sha256_file(location) == sha else "changed"
    return {
        "path": recorded,
        "sha256": sha,
        "bytes": item.get("bytes"),
        "location": str(Path(location).resolve()) if location else None,
        "status": status,
    }


def _as_sha(value: Any) -> str:
    value = str(value or "")
    return value if value.startswith("sha256:") else f"sha256:{value}"


# --------------------------------------------------------------------------------------------
# loss curve


def plot_metrics(run: RunRecord, path: str | os.PathLike | None = None) -> Path | None:
    """Write a PNG of the run's loss-like metrics over steps (None when nothing was logged)."""
    rows = run.metrics()
    keys = sorted({k for r in rows for k in r if k not in ("step", "time")})
    keys = [k for k in keys if "loss" in k] or [k for k in keys if "perplexity" not in k]
    if not rows or not keys:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display needed; safe in threads and on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    try:
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r]
            style = "o-" if len(points) < 30 else "-"
            ax.plot([s for s, _ in points], [v for _, v in points], style, label=key, markersize=4)
        ax.set_xlabel("step")
        ax.set_ylabel("loss" if all("loss" in k for k in keys) else "value")
        ax.set_title(f"{run.kind} run {run.id}" + (f" ({run.name})" if run.name else ""))
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        out = Path(path) if path else run.run_dir / "loss_curve.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out
