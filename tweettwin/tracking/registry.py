"""The run registry: ``<workspace>/runs.db`` (SQLite, WAL) and the records read from it.

WAL mode lets ``tweettwin runs`` read while a training run writes. Any SQLite failure (a damaged
file, a lock held by another process) comes out as one :class:`RegistryError` that says how to
fix it; the writers in :mod:`tweettwin.tracking.run` turn it into a warning, because the
registry must never stop the job it records.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tweettwin.errors import InputError, RegistryError
from tweettwin.tracking.migrations import migrate, now
from tweettwin.workspace import Workspace

# Short: a writer waits this long for another writer, then the job goes on unrecorded.
LOCK_TIMEOUT_S = 5.0

WorkspaceLike = Workspace | str | os.PathLike | None


def registry_error(ws: Workspace, ex: BaseException) -> RegistryError:
    """One line saying what is wrong with ``runs.db`` and what to do about it."""
    path, text = ws.db_path, str(ex)
    if "locked" in text or "busy" in text:
        return RegistryError(
            f"the run registry {path} is locked by another process (waited "
            f"{LOCK_TIMEOUT_S:.0f} s): let that process finish, or close what holds the file"
        )
    return RegistryError(
        f"the run registry {path} cannot be used ({text}): move it away "
        f"(mv {path} {path}.damaged) and the next run starts a new one "
        f"(the run folders in {ws.runs_dir} are kept)"
    )


def connect(ws: WorkspaceLike = None, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (and migrate) ``<workspace>/runs.db`` in WAL mode (readers never wait for writers).

    Waits at most ``LOCK_TIMEOUT_S`` for a lock; any failure is a :class:`RegistryError`."""
    ws = Workspace.resolve(ws)
    db = None
    try:
        ws.root.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            ws.db_path,
            timeout=LOCK_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL keeps it consistent
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except (sqlite3.Error, OSError) as ex:
        if db is not None:
            db.close()
        raise registry_error(ws, ex) from None
    return db


@contextlib.contextmanager
def open_db(ws: WorkspaceLike) -> Iterator[sqlite3.Connection]:
    """A short-lived connection; SQLite failures inside come out as a RegistryError."""
    ws = Workspace.resolve(ws)
    db = connect(ws)
    try:
        yield db
    except sqlite3.Error as ex:
        raise registry_error(ws, ex) from None
    finally:
        db.close()


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


_JSON_COLUMNS = ("config", "params", "lineage", "outputs", "summary")
_PLAIN_COLUMNS = ("id", "kind", "name", "status", "started_at", "ended_at", "error", "pid")


def _record(db: sqlite3.Connection, row: sqlite3.Row) -> RunRecord:
    inputs = db.execute(
        "SELECT path, sha256, bytes FROM run_inputs WHERE run_id = ? ORDER BY path", (row["id"],)
    )
    artifacts = db.execute(
        "SELECT path, kind, sha256, created_at FROM artifacts WHERE run_id = ? ORDER BY created_at",
        (row["id"],),
    )
    return RunRecord(
        **{k: row[k] for k in _PLAIN_COLUMNS},
        **{k: json.loads(row[k]) for k in _JSON_COLUMNS},
        run_dir=Path(row["run_dir"]),
        inputs=[dict(r) for r in inputs],
        artifacts=[dict(r) for r in artifacts],
    )


def list_runs(
    *,
    workspace: WorkspaceLike = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[RunRecord]:
    """Runs, newest first (ids sort by time). Stale "running" runs are marked interrupted."""
    if not Workspace.resolve(workspace).db_path.exists():
        return []
    with open_db(workspace) as db:
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


def get_run(run_id: str, *, workspace: WorkspaceLike = None) -> RunRecord:
    """One run by id, or by a unique prefix of its id (``runs show 01J9``)."""
    ws = Workspace.resolve(workspace)
    if not ws.db_path.exists():
        raise InputError(f"no runs recorded yet in {ws.root} (set --workspace?)")
    with open_db(ws) as db:
        _reap_stale(db)
        rows = db.execute(
            "SELECT * FROM runs WHERE id LIKE ? ORDER BY id DESC LIMIT 2", (run_id.upper() + "%",)
        ).fetchall()
        if not rows:
            raise InputError(f"no run {run_id!r} in {ws.root}; `tweettwin runs` lists them")
        if len(rows) > 1 and rows[0]["id"] != run_id.upper():
            raise InputError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return _record(db, rows[0])


def find_run(
    ws: WorkspaceLike, column: str, value: str | None, kind: str | None = None
) -> RunRecord | None:
    """The newest completed run whose ``column`` (dataset_hash, model_hash) is ``value``."""
    if not value or not Workspace.resolve(ws).db_path.exists():
        return None
    with open_db(ws) as db:
        sql = f"SELECT * FROM runs WHERE {column} = ? AND status = 'completed'"
        args = [value]
        if kind:
            sql, args = sql + " AND kind = ?", [*args, kind]
        row = db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return _record(db, row) if row else None


def input_paths(ws: WorkspaceLike) -> list[tuple[str, str]]:
    """(sha256, path) of every recorded input file, oldest run first."""
    if not Workspace.resolve(ws).db_path.exists():
        return []
    with open_db(ws) as db:
        rows = db.execute("SELECT path, sha256 FROM run_inputs ORDER BY run_id").fetchall()
        return [(row["sha256"], row["path"]) for row in rows]


def write_run_json(ws: Workspace, run_id: str) -> None:
    """The record as ``run.json`` in the run's folder (readable without SQLite); best effort."""
    with contextlib.suppress(Exception):
        rec = get_run(run_id, workspace=ws)
        (rec.run_dir / "run.json").write_text(
            json.dumps(rec.to_dict(), indent=2, default=str) + "\n"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale(db: sqlite3.Connection) -> None:
    """Mark "running" runs of this host whose process is gone as interrupted.

    Best effort: while another process holds the write lock, readers still read (WAL) and the
    stale runs are marked by the next reader."""
    host = socket.gethostname()
    rows = db.execute("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (host,))
    stale = [row["id"] for row in rows.fetchall() if row["pid"] and not _pid_alive(row["pid"])]
    with contextlib.suppress(sqlite3.OperationalError):
        for run_id in stale:
            db.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? "
                "WHERE id = ? AND status = 'running'",
                (now(), "its process ended without closing the run", run_id),
            )
