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
registry is read, because its pid is gone. Secrets never reach disk: see :func:`scrub`. A damaged
or locked registry never stops the job: the run warns and goes on unrecorded.

    migrations.py   the schema, append-only       registry.py  runs.db: connect, read records
    run.py          Run, start_run                 safety.py    atexit/SIGTERM: no run stays open
    hashing.py      run ids, file/model hashes     lineage.py   model -> dataset -> inputs
    plot.py         the loss curve PNG
"""

from tweettwin.redaction import REDACTED, scrub
from tweettwin.tracking.hashing import model_hash, new_run_id, sha256_file
from tweettwin.tracking.lineage import lineage
from tweettwin.tracking.migrations import MIGRATIONS
from tweettwin.tracking.plot import plot_metrics
from tweettwin.tracking.registry import RunRecord, connect, get_run, list_runs
from tweettwin.tracking.run import STATUSES, Run, start_run
from tweettwin.workspace import DB_NAME, RUNS_DIR

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "REDACTED",
    "RUNS_DIR",
    "STATUSES",
    "Run",
    "RunRecord",
    "connect",
    "get_run",
    "lineage",
    "list_runs",
    "model_hash",
    "new_run_id",
    "plot_metrics",
    "scrub",
    "sha256_file",
    "start_run",
]
