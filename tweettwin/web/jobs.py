"""Training jobs started from the page: one at a time, in the background, never lost.

Each job is the tracked ``train`` step (a "train" run in the workspace's registry) plus a small
job file under ``<workspace>/serve-jobs/``. A restarted server reads those files: a job that was
running when its process died shows as interrupted and resumes from its last checkpoint (jobs
save one every minute, and on cancel). Events (steps, evaluations, status) are kept in memory
for the page's live chart; a reload replays them.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tweettwin.web.errors import ApiError
from tweettwin.web.training import run_training

JOBS_DIR = "serve-jobs"
SAVE_EVERY_S = 5.0


@dataclass
class Job:
    id: str
    dataset_dir: str
    model_dir: str
    name: str
    config: dict
    status: str = "running"  # running | completed | failed | interrupted
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    error: str | None = None
    pid: int = field(default_factory=os.getpid)
    events: list[dict] = field(default_factory=list)

    @property
    def checkpoint(self) -> Path:
        model = Path(self.model_dir)
        return model.parent / f".{model.name}.train" / "checkpoint"

    def to_dict(self, events: bool = False) -> dict:
        d = asdict(self)
        d.pop("events")
        d.pop("pid")
        d["resumable"] = self.status == "interrupted" and self.checkpoint.exists()
        d["last"] = self.events[-1] if self.events else None
        if events:
            d["events"] = list(self.events)
        return d


class Jobs:
    def __init__(self, workspace, train_defaults: dict | None = None) -> None:
        self.workspace = workspace
        self.dir = Path(workspace) / JOBS_DIR
        self.defaults = dict(train_defaults or {})
        self.current: Job | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._saved_at = 0.0
        self._thread: threading.Thread | None = None
        self._load()

    # -- persistence ---------------------------------------------------------------------
    def _load(self) -> None:
        for path in sorted(self.dir.glob("*.json")):
            try:
                job = Job(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if job.status == "running" and job.pid != os.getpid():
                job.status, job.error = "interrupted", "the server stopped during training"
                job.ended_at = job.ended_at or time.time()
                self._save(job)
            self._jobs[job.id] = job

    def _save(self, job: Job) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        data = asdict(job) | {"events": job.events[-2000:]}
        tmp = self.dir / f".{job.id}.tmp"
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.dir / f"{job.id}.json")

    # -- queries -------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        if job_id == "current":
            job = self.current or self.latest()
        else:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no training job {job_id!r}", param="job_id")
        return job

    def latest(self) -> Job | None:
        return max(self._jobs.values(), key=lambda j: j.started_at, default=None)

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: -j.started_at)

    # -- control -------------------------------------------------------------------------
    def start(self, dataset_dir: Path, options: dict | None = None, resume_of: Job | None = None):
        with self._lock:
            if self.current is not None and self.current.status == "running":
                raise ApiError(
                    409,
                    f"a model is already training ({self.current.name}); wait for it or cancel "
                    "it first",
                    code="job_running",
                )
            model_dir = dataset_dir.parent / "model"
            config = {**self.defaults, **(options or {}), "checkpoint_minutes": 1.0}
            config |= {"resume": True, "overwrite": False} if resume_of else {"overwrite": True}
            job = Job(
                id=secrets.token_hex(6),
                dataset_dir=str(dataset_dir),
                model_dir=str(model_dir),
                name=dataset_dir.parent.name,
                config=config,
            )
            if resume_of is not None:
                job.events = [e for e in resume_of.events if e.get("kind") in ("step", "eval")]
            self._stop.clear()
            self.current = self._jobs[job.id] = job
            self._save(job)
        self._thread = threading.Thread(
            target=self._run, args=(job,), name="tweettwin-train", daemon=True
        )
        self._thread.start()
        return job

    def resume(self, job_id: str) -> Job:
        old = self.get(job_id)
        if not old.to_dict()["resumable"]:
            raise ApiError(
                409, f"job {old.id} has no checkpoint to resume from", code="not_resumable"
            )
        return self.start(Path(old.dataset_dir), old.config, resume_of=old)

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status != "running":
            raise ApiError(409, f"job {job.id} is not running ({job.status})", code="not_running")
        self._stop.set()
        return job

    def _emit(self, job: Job, event: dict) -> None:
        job.events.append(event)
        if time.time() - self._saved_at > SAVE_EVERY_S:  # a restart keeps the chart so far
            self._saved_at = time.time()
            self._save(job)

    def _run(self, job: Job) -> None:
        from tweettwin.errors import TweettwinError

        try:
            run_training(
                self.workspace,
                job.dataset_dir,
                job.model_dir,
                job.config,
                lambda e: self._emit(job, e),
                self._stop,
            )
            job.status = "completed"
        except KeyboardInterrupt:  # today's TrainingInterrupted is one (train branch: an error)
            job.status, job.error = "interrupted", "cancelled; a checkpoint was saved"
        except TweettwinError as ex:
            interrupted = type(ex).__name__ == "TrainingInterrupted"
            job.status = "interrupted" if interrupted else "failed"
            job.error = "cancelled; a checkpoint was saved" if interrupted else str(ex)
        except Exception as ex:  # noqa: BLE001 - a job must end with a status, whatever happened
            job.status, job.error = "failed", f"training failed: {type(ex).__name__}: {ex}"
        job.ended_at = time.time()
        self._emit(job, {"kind": "status", "status": job.status, "error": job.error})
        self._save(job)

    def shutdown(self, wait_s: float = 60) -> None:
        """Stop a running job at its next step; it saves a checkpoint and is resumable."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait_s)
