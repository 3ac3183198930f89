"""A run's loss curve as a PNG (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

import os
from pathlib import Path

from tweettwin.tracking.registry import RunRecord


def plot_metrics(run: RunRecord, path: str | os.PathLike | None = None) -> Path | None:
    """Write a PNG of the run's loss-like metrics over steps (None when nothing was logged)."""
    rows = run.metrics()
    keys = sorted({k for r in rows for k in r if k not in ("step", "time")})
    keys = [k for k in keys if "loss" in k] or [k for k in keys if "perplexity" not in k]
    if not rows or not keys:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display needed; safe in threads and on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    try:
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r]
            style = "o-" if len(points) < 30 else "-"
            ax.plot([s for s, _ in points], [v for _, v in points], style, label=key, markersize=4)
        ax.set_xlabel("step")
        ax.set_ylabel("loss" if all("loss" in k for k in keys) else "value")
        ax.set_title(f"{run.kind} run {run.id}" + (f" ({run.name})" if run.name else ""))
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        out = Path(path) if path else run.run_dir / "loss_curve.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out
