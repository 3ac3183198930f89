"""The registry's schema: an append-only list of named migrations, applied once each."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this database has not seen, in one transaction."""
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
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, now()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
