"""The training adapter the jobs use: run the tracked ``train`` step, report plain event dicts,
stop when asked (a checkpoint is saved), then write the card's samples and preview as ``make``.

    run_training(dataset_dir, model_dir, {"max_minutes": 5}, emit=print, stop=threading.Event())

Events: ``{"kind": "step", "step", "total_steps", "loss", "tokens_per_s", "eta_s"}``,
``{"kind": "eval", "step", "val_loss"}``. With the ``on_event(TrainEvent)`` hook of
``train_step`` (branch ``train``) it is a thin translation; until that lands, today's
``tracker``/``on_step`` hooks of ``ml.train.train`` give the same events (``_train_today``).
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

Emit = Callable[[dict], None]
PROMPT = "My dream is"


def run_training(
    workspace, dataset_dir, model_dir, options: dict, emit: Emit, stop: threading.Event
):
    from tweettwin import pipeline
    from tweettwin.errors import require
    from tweettwin.train_config import TrainConfig

    require("torch", "Training", "ml")
    config = TrainConfig(**options)
    if "on_event" in inspect.signature(pipeline.train_step).parameters:

        def on_event(event) -> None:
            _translate(event, emit)
            if stop.is_set():
                raise KeyboardInterrupt

        result = pipeline.train_step(
            dataset_dir, model_dir, config, on_event=on_event, workspace=workspace
        )
    else:
        result = _train_today(workspace, dataset_dir, model_dir, config, emit, stop)
    _card(workspace, Path(model_dir), config.seed)
    return result


def _translate(event, emit: Emit) -> None:
    tps = event.tokens_per_s
    left = max(0, event.total_steps - event.step)
    eta = left * event.train_seconds / event.step if event.step else None
    if event.kind == "step":
        emit(
            {
                "kind": "step",
                "step": event.step,
                "total_steps": event.total_steps,
                "loss": event.loss,
                "tokens_per_s": tps,
                "eta_s": eta,
            }
        )
    elif event.kind == "eval":
        emit({"kind": "eval", "step": event.step, "val_loss": event.val_loss})


def _train_today(workspace, dataset_dir, model_dir, config, emit: Emit, stop: threading.Event):
    """``pipeline.train_step`` with events and a stop flag (delete when on_event lands)."""
    from tweettwin.ml.train import train
    from tweettwin.model_folder import weights_hash
    from tweettwin.tracking import start_run

    per_step = config.batch_size * config.block_size
    mark: list = []  # (time, step) of the first event: model loading is not a training step

    class Tee:
        def log_metrics(self, metrics: dict, step: int) -> None:
            run.log_metrics(metrics, step)
            now = time.perf_counter()
            mark[:] = mark or [now, step]
            if "train_loss" in metrics:
                per_s = (step - mark[1]) / (now - mark[0]) if step > mark[1] else 0.0
                total = config.max_steps or _planned(step, metrics.get("epoch"), config.epochs)
                event = {
                    "kind": "step",
                    "step": step,
                    "total_steps": total,
                    "loss": metrics["train_loss"],
                    "tokens_per_s": per_step * per_s,
                    "eta_s": (total - step) / per_s if total and per_s else None,
                }
                emit(event)
            if "val_loss" in metrics:
                emit({"kind": "eval", "step": step, "val_loss": metrics["val_loss"]})

    def on_step(step: int, model) -> None:
        if stop.is_set():
            raise KeyboardInterrupt

    with start_run("train", config.to_dict(), workspace=workspace) as run:
        run.use_dataset(dataset_dir)
        result = train(
            dataset_dir, model_dir, config, tracker=Tee(), progress=False, on_step=on_step
        )
        record = result.record
        run.set_lineage(
            base_model=record.base_model_id,
            base_model_hash=record.base_model_hash,
            dataset_hash=record.dataset_hash,
            dataset_dir=str(dataset_dir),
        )
        run.log_artifact(model_dir, "model", weights_hash(model_dir))
        run.finish(outputs={"model_dir": str(model_dir)})
    result.run_id = run.id
    return result


def _planned(step: int, epoch: float | None, epochs: float) -> int | None:
    """Planned steps from the epoch a step reached (``epoch = step / steps_per_epoch``)."""
    if not epoch:
        return None
    return max(1, math.ceil(epochs * round(step / epoch)))


def _card(workspace, model_dir: Path, seed: int) -> None:
    """Ten sample posts and the card with the first one as its picture, as ``make`` does."""
    from tweettwin.pipeline.make_step import write_samples
    from tweettwin.publish.card import write_card

    samples = write_samples(model_dir, PROMPT, 10, seed=seed)
    first = samples.posts[0] if samples.posts else None
    write_card(model_dir, preview_text=first, workspace=workspace)
