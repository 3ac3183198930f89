"""External trackers behind ``--report-to wandb,mlflow,tensorboard`` (several allowed, or none).

Each reporter wraps the library's own client and receives what :class:`tweettwin.tracking.Run`
records: params, metrics, inputs, lineage, artifacts and the final status. The libraries are
imported lazily and checked *before* a run starts (:func:`check_available`), so a missing one
fails with the pip hint instead of after an hour of training.

Privacy: trackers get metrics, hashes and small files (card, preview, config), never the posts.
Data and weights go to W&B as *reference* artifacts (``file://`` URIs with checksums), which draws
the same lineage graph huggingtweets had (raw data -> dataset -> model) without uploading them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tweettwin.errors import ConfigError, MissingExtraError

#: report-to name -> (module to import, extra that installs it)
TRACKERS: dict[str, tuple[str, str]] = {
    "wandb": ("wandb", "wandb"),
    "mlflow": ("mlflow", "mlflow"),
    "tensorboard": ("tensorboard", "tensorboard"),
}
SMALL_FILE = 10 * 1024 * 1024  # files above this are referenced, not copied to MLflow


def parse_report_to(value: Iterable[str] | str | None) -> list[str]:
    """``"wandb,mlflow"`` / ``["wandb", "mlflow"]`` / ``"none"`` -> validated, unique names."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        for name in str(item).replace(" ", ",").split(","):
            name = name.strip().lower()
            if not name or name == "none":
                continue
            if name not in TRACKERS:
                raise ConfigError(f"--report-to {name!r}: use wandb, mlflow, tensorboard or none")
            if name not in names:
                names.append(name)
    return names


def check_available(names: Iterable[str]) -> None:
    """Raise MissingExtraError (with the pip command) for the first tracker that isn't installed."""
    import importlib.util

    for name in names:
        module, extra = TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(f"--report-to {name}", extra)


def create(names: Iterable[str], run: Any, config: Mapping[str, Any], **options: Any) -> list:
    """Start one reporter per name for ``run`` (a tracking.Run). Options: ``wandb_project``,
    ``mlflow_tracking_uri``, ``mlflow_experiment``, ``tensorboard_dir``."""
    makers = {"wandb": WandbReporter, "mlflow": MlflowReporter, "tensorboard": TensorBoardReporter}
    started: list = []
    try:
        for name in names:
            started.append(makers[name](run, dict(config), **options))
    except BaseException:
        for reporter in started:
            reporter.finish("failed")
        raise
    return started


class Reporter:
    """Base: every hook is optional."""

    def log_params(self, params: dict) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def use_input(self, path: Path, sha256: str, kind: str) -> None: ...

    def set_lineage(self, lineage: dict) -> None: ...

    def log_artifact(self, path: Path, kind: str, sha256: str | None) -> None: ...

    def finish(self, status: str) -> None: ...


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> ``{"a.b": "value"}`` for trackers whose params are flat strings."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v if isinstance(v, str) else json.dumps(v, default=str)
    return out


_GENERIC = {"data", "dataset", "model", "out", "output", "manifest.json"}


def _artifact_name(kind: str, path: Path) -> str:
    """``dataset-ada-data``: stable across runs, so W&B links a train run's input to the prepare
    run's output (same name, same digest = same artifact version)."""
    name = path.name
    if name.lower() in _GENERIC and path.parent.name:
        name = f"{path.parent.name}-{name}"
    # W&B artifact names: letters, digits, dashes, underscores, dots.
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:64]
    return f"{kind}-{stem}".strip("-.") or kind


# ------------------------------------------------------------------------------------------ W&B


class WandbReporter(Reporter):
    """W&B run with config, metrics and reference artifacts linked raw data -> dataset -> model."""

    def __init__(self, run: Any, config: dict, wandb_project: str | None = None, **_: Any) -> None:
        import wandb

        self._wandb = wandb
        self.run = wandb.init(
            project=wandb_project or os.environ.get("WANDB_PROJECT") or "tweettwin",
            name=f"{run.kind}-{run.id}",
            job_type=run.kind,
            config=config,
            dir=str(run.dir),
            reinit="create_new",
            settings=wandb.Settings(console="off", save_code=False, silent=True),
        )

    def log_params(self, params: dict) -> None:
        self.run.config.update(params, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(dict(metrics), step=step)

    def _reference(self, path: Path, kind: str, sha256: str | None) -> Any:
        artifact = self._wandb.Artifact(
            _artifact_name(kind, path), type=kind, metadata={"sha256": sha256, "path": str(path)}
        )
        # A reference (file:// + checksums), not an upload: lineage without sending the posts.
        artifact.add_reference(Path(path).resolve().as_uri(), checksum=True)
        return artifact

    def use_input(self, path: Path, sha256: str, kind: str) -> None:
        artifact = self._reference(path, kind, sha256)
        if not self.run.offline:
            self.run.use_artifact(artifact)
        else:
            # use_artifact() refuses offline runs; the record it would write (logged, then used
            # as an input) is what _log_artifact(use_after_commit=True) queues for `wandb sync`.
            self.run._log_artifact(artifact, is_user_created=True, use_after_commit=True)

    def set_lineage(self, lineage: dict) -> None:
        self.run.config.update({"lineage": lineage}, allow_val_change=True)

    def log_artifact(self, path: Path, kind: str, sha256: str | None) -> None:
        self.run.log_artifact(self._reference(path, kind, sha256))

    def finish(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "completed" else 1)


# --------------------------------------------------------------------------------------- MLflow


def mlflow_tracking_uri(run: Any) -> str:
    """$MLFLOW_TRACKING_URI, else a SQLite store in the workspace (what MLflow recommends)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return uri or f"sqlite:///{(Path(run.workspace) / 'mlflow.db').resolve()}"


class MlflowReporter(Reporter):
    """MLflow run through ``MlflowClient`` (no global active-run state)."""

    def __init__(
        self,
        run: Any,
        config: dict,
        mlflow_tracking_uri: str | None = None,
        mlflow_experiment: str | None = None,
        **_: Any,
    ) -> None:
        import logging

        from mlflow.tracking import MlflowClient

        # MLflow announces its database migrations at INFO on first use: noise on our stderr.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        uri = mlflow_tracking_uri or globals()["mlflow_tracking_uri"](run)
        self.client = MlflowClient(tracking_uri=uri)
        name = mlflow_experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "tweettwin"
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        elif uri.startswith("sqlite:") and not os.environ.get("MLFLOW_TRACKING_URI"):
            artifacts = (Path(run.workspace) / "mlartifacts").resolve()
            experiment_id = self.client.create_experiment(
                name, artifact_location=artifacts.as_uri()
            )
        else:
            experiment_id = self.client.create_experiment(name)
        self.run_id = self.client.create_run(
            experiment_id,
            run_name=f"{run.kind}-{run.id}",
            tags={"tweettwin.kind": run.kind, "tweettwin.run_id": run.id},
        ).info.run_id
        self.log_params(config)

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        flat = [Param(k, str(v)[:6000]) for k, v in _flat(params).items()]
        for i in range(0, len(flat), 100):  # MLflow caps a batch at 100 params
            self.client.log_batch(self.run_id, params=flat[i : i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import time

        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id, metrics=[Metric(k, v, ts, step) for k, v in metrics.items()]
        )

    def use_input(self, path: Path, sha256: str, kind: str) -> None:
        self.client.set_tag(self.run_id, f"tweettwin.input.{_artifact_name(kind, path)}", sha256)

    def set_lineage(self, lineage: dict) -> None:
        for key, value in _flat(lineage).items():
            self.client.set_tag(self.run_id, f"tweettwin.lineage.{key}", value[:5000])

    def log_artifact(self, path: Path, kind: str, sha256: str | None) -> None:
        path = Path(path)
        if sha256:
            self.client.set_tag(self.run_id, f"tweettwin.{kind}.sha256", sha256)
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            if f.stat().st_size <= SMALL_FILE and not f.name.endswith(".jsonl"):
                sub = kind if f == path else f"{kind}/{f.parent.relative_to(path)}".rstrip("/.")
                self.client.log_artifact(self.run_id, str(f), artifact_path=sub)

    def finish(self, status: str) -> None:
        mlflow_status = {"completed": "FINISHED", "interrupted": "KILLED"}.get(status, "FAILED")
        self.client.set_terminated(self.run_id, mlflow_status)


# ---------------------------------------------------------------------------------- TensorBoard


class TensorBoardReporter(Reporter):
    """Scalars through TensorBoard's own numpy-only writer (no torch, no TensorFlow)."""

    def __init__(
        self, run: Any, config: dict, tensorboard_dir: str | os.PathLike | None = None, **_: Any
    ) -> None:
        from tensorboard.summary import Writer

        self.dir = (
            Path(tensorboard_dir) / run.id if tensorboard_dir else Path(run.dir) / "tensorboard"
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.writer = Writer(str(self.dir))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def finish(self, status: str) -> None:
        self.writer.close()
