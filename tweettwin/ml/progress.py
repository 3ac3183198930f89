"""Training progress on stderr (rich) and the free-disk check before a run starts."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tweettwin.errors import TweettwinError


class TrainProgress:
    """A bar with steps, ETA, tokens/s, the last train loss and the last validation loss."""

    def __init__(self, total_steps: int, enabled: bool = True):
        self.enabled = enabled
        self.loss = self.val = None
        self.progress = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.task = self.progress.add_task("train", total=total_steps, stats="")

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(
        self,
        step: int,
        tokens: int,
        seconds: float,
        loss: float | None = None,
        val: float | None = None,
        total: int | None = None,
    ) -> None:
        self.loss = loss if loss is not None else self.loss
        self.val = val if val is not None else self.val
        parts = [f"{tokens / seconds:.0f} tok/s" if seconds else ""]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.3f}")
        if self.val is not None:
            parts.append(f"val {self.val:.3f}")
        self.progress.update(
            self.task,
            completed=step,
            stats="  ".join(p for p in parts if p),
            **({"total": total} if total else {}),
        )


def check_disk(output_dir: Path, num_parameters: int, config) -> None:
    """Refuse to start when the output's disk cannot hold the checkpoint and the saved model."""
    bytes_per = 2 if config.save_dtype == "bfloat16" else 4
    trained = num_parameters if config.method == "full" else num_parameters // 20
    needed = num_parameters * bytes_per + trained * 12 * 2 + 2**27  # model + 2 checkpoint copies
    probe = output_dir.resolve()
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise TweettwinError(
            f"not enough disk space in {probe}: training needs about {needed / 2**30:.1f} GB "
            f"(model + checkpoints), {free / 2**30:.1f} GB free; free some space or choose "
            f"another -o"
        )
