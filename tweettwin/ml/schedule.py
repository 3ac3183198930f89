"""The learning-rate schedule and the time budget that can shorten it (``--max-minutes``)."""

from __future__ import annotations

import math
import time


def cosine_schedule(state, config):
    """Linear warm-up then cosine decay to ``min_lr_ratio``; reads ``state.total_steps`` live so a
    time budget can shorten the schedule."""

    def factor(step: int) -> float:
        warmup = int(config.warmup_ratio * state.total_steps)
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, state.total_steps - warmup))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )

    return factor


def fit_budget(state, config, started: float) -> None:
    """With --max-minutes, shrink the planned steps once (after warm-up) to what fits the budget, so
    the schedule still ends at its low learning rate."""
    if not config.max_minutes or state.step != 6 or state.train_seconds <= 0:
        return
    left = config.max_minutes * 60 - (time.perf_counter() - started)
    per_step = state.train_seconds / state.step * 1.15  # + evaluation and checkpoint overhead
    state.total_steps = max(
        state.step + 1, min(state.total_steps, state.step + int(left / per_step))
    )
