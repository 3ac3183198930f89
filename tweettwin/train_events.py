"""What a training run reports while it runs: one ``TrainEvent`` stream, torch-free.

``train(..., on_event=callback)`` calls ``callback(event)`` on the main process after every
optimizer step, every validation pass, every checkpoint and once at the end. Front ends turn the
stream into what they show (the CLI's progress bar, a web page's live chart); the tracked step
turns it into metrics (``event.metrics()``). Raising ``KeyboardInterrupt`` from the callback stops
training the way Ctrl-C does (a checkpoint is saved, then ``TrainingInterrupted``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

KINDS = ("step", "eval", "checkpoint", "done")


@dataclass(frozen=True)
class TrainEvent:
    kind: str  # one of KINDS
    step: int  # optimizer steps done so far
    total_steps: int  # planned steps (a --max-minutes budget can lower it once, early on)
    tokens: int  # training tokens seen so far
    train_seconds: float  # time spent in optimizer steps (evaluations and saving excluded)
    epoch: float
    loss: float | None = None  # "step": this step's training loss
    learning_rate: float | None = None  # "step"
    val_loss: float | None = None  # "eval": mean held-out loss; "done": the best one
    path: str | None = None  # "checkpoint": its folder; "done": the model folder
    stop_reason: str | None = None  # "done": completed / early_stopping / max_minutes / max_steps

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds else 0.0

    def metrics(self) -> dict[str, float]:
        """What a run tracker logs for this event (empty for checkpoint / done)."""
        if self.kind == "step":
            return {
                "train_loss": self.loss,
                "learning_rate": self.learning_rate,
                "epoch": self.epoch,
            }
        if self.kind == "eval":
            return {"val_loss": self.val_loss, "val_perplexity": math.exp(self.val_loss)}
        return {}

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


OnEvent = Callable[[TrainEvent], None]


def fan_out(*callbacks: OnEvent | None) -> OnEvent:
    """One callback that calls each of ``callbacks`` (None ones skipped) in order."""
    active = [c for c in callbacks if c is not None]

    def call(event: TrainEvent) -> None:
        for callback in active:
            callback(event)

    return call
