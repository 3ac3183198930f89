"""The training adapter the jobs use: run the tracked ``train`` step, report plain event dicts,
stop when asked (a checkpoint is saved), then write the card's samples and preview as ``make``.

    run_training(dataset_dir, model_dir, {"max_minutes": 5}, emit=print, stop=threading.Event())

Events: ``{"kind": "step", "step", "total_steps", "loss", "tokens_per_s", "eta_s"}``,
``{"kind": "eval", "step", "val_loss"}``: a thin translation of ``train_step``'s
``on_event(TrainEvent)``. Stopping raises ``KeyboardInterrupt`` inside the loop, which saves a
checkpoint and ends as ``TrainingInterrupted`` (resumable).
"""

from __future__ import annotations

import threading
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

    def on_event(event) -> None:
        _translate(event, emit)
        if stop.is_set():
            raise KeyboardInterrupt

    result = pipeline.train_step(
        dataset_dir, model_dir, config, on_event=on_event, workspace=workspace
    )
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


def _card(workspace, model_dir: Path, seed: int) -> None:
    """Ten sample posts and the card with the first one as its picture, as ``make`` does."""
    from tweettwin.pipeline.make_step import write_samples
    from tweettwin.publish.card import write_card

    samples = write_samples(model_dir, PROMPT, 10, seed=seed)
    first = samples.posts[0] if samples.posts else None
    write_card(model_dir, preview_text=first, workspace=workspace)
