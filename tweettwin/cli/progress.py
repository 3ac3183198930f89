"""Training progress on stderr, drawn from the run's ``TrainEvent`` stream (torch-free).

On a terminal: a rich bar with steps, ETA, tokens/s, the last training and validation loss.
Elsewhere (a log file, CI, a pipe): one plain line per validation pass and checkpoint, and at most
one per ``every_s`` seconds for steps, so a log stays readable and still shows the run is alive.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tweettwin.train_events import TrainEvent


class TrainProgress:
    """``on_event`` callback for ``train``; opens on the first event, closes on "done".

    Use as a context manager so an error or Ctrl-C also closes the bar cleanly."""

    def __init__(
        self, stream: TextIO | None = None, every_s: float = 30.0, live: bool | None = None
    ):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.every_s = every_s
        self.loss = self.val = None
        self._bar = self._task = None
        self._last_line = -float("inf")

    def __enter__(self) -> TrainProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __call__(self, event: TrainEvent) -> None:
        if event.loss is not None:
            self.loss = event.loss
        if event.kind == "eval":
            self.val = event.val_loss
        if self.live:
            self._draw(event)
        else:
            self._line(event)
        if event.kind == "done":
            self.close()

    def stats(self, event: TrainEvent) -> str:
        parts = [f"{event.tokens_per_s:.0f} tok/s" if event.train_seconds else ""]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.3f}")
        if self.val is not None:
            parts.append(f"val {self.val:.3f}")
        return "  ".join(p for p in parts if p)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def _draw(self, event: TrainEvent) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[stats]}"),
                console=Console(file=self.stream),
            )
            self._task = self._bar.add_task("train", total=event.total_steps, stats="")
            self._bar.start()
        self._bar.update(
            self._task, completed=event.step, total=event.total_steps, stats=self.stats(event)
        )

    def _line(self, event: TrainEvent) -> None:
        if event.kind == "step":  # steps are throttled; evals, checkpoints and the end are not
            now = time.monotonic()
            if now - self._last_line < self.every_s:
                return
            self._last_line = now
        head = f"training step {event.step}/{event.total_steps}"
        if event.kind == "checkpoint":
            text = f"{head}: checkpoint saved in {event.path}"
        elif event.kind == "done":
            text = f"{head}: done ({event.stop_reason}), best val {event.val_loss:.3f}"
        else:
            text = f"{head}  {self.stats(event)}"
        print(text, file=self.stream, flush=True)


class StageProgress:
    """Progress for a job in named stages, one of them counted (``tweettwin eval``: held-out loss,
    then N samples, then scoring). A rich bar on a terminal; elsewhere one plain line per stage
    and at most one per ``every_s`` seconds for the count, so a log shows the job is alive."""

    def __init__(
        self,
        name: str,
        total: int,
        stream: TextIO | None = None,
        every_s: float = 30.0,
        live: bool | None = None,
    ):
        self.name, self.total, self.done = name, total, 0
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.every_s = every_s
        self._stage = ""
        self._bar = self._task = None
        self._last_line = -float("inf")

    def __enter__(self) -> StageProgress:
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._task = self._bar.add_task(self.name, total=self.total)
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def stage(self, text: str) -> None:
        self._stage = text
        if self._bar is not None:
            self._bar.update(self._task, description=text)
        else:
            print(f"{self.name}: {text}", file=self.stream, flush=True)

    def advance(self, k: int) -> None:
        self.done += k
        if self._bar is not None:
            self._bar.advance(self._task, k)
            return
        now = time.monotonic()
        if self.done >= self.total or now - self._last_line >= self.every_s:
            self._last_line = now
            print(
                f"{self.name}: {self._stage or 'working'} {self.done}/{self.total}",
                file=self.stream,
                flush=True,
            )
