"""The CLI's training progress, drawn from TrainEvents (torch-free): plain lines off a terminal."""

from __future__ import annotations

import io

from tweettwin.cli.progress import TrainProgress
from tweettwin.train_events import TrainEvent, fan_out


def event(kind, step, **kw):
    return TrainEvent(kind, step, 10, step * 512, step * 2.0, step / 10, **kw)


def test_plain_lines_show_evals_checkpoints_and_the_end_but_throttle_steps():
    out = io.StringIO()
    progress = TrainProgress(out, every_s=3600, live=False)
    progress(event("eval", 0, val_loss=4.5))
    for step in range(1, 6):
        progress(event("step", step, loss=4.0 - step / 10, learning_rate=3e-4))
    progress(event("eval", 5, val_loss=3.9))
    progress(event("checkpoint", 5, path="/tmp/x/.m.train/checkpoint"))
    progress(event("done", 5, val_loss=3.9, path="/tmp/m", stop_reason="completed"))
    lines = out.getvalue().splitlines()
    assert lines == [
        "training step 0/10  val 4.500",
        "training step 1/10  256 tok/s  loss 3.900  val 4.500",  # the first step shows at once
        "training step 5/10  256 tok/s  loss 3.500  val 3.900",
        "training step 5/10: checkpoint saved in /tmp/x/.m.train/checkpoint",
        "training step 5/10: done (completed), best val 3.900",
    ]


def test_events_carry_tracker_metrics_and_fan_out_to_every_callback():
    seen_a, seen_b = [], []
    call = fan_out(seen_a.append, None, seen_b.append)
    step = event("step", 2, loss=3.0, learning_rate=1e-4)
    call(step)
    assert seen_a == seen_b == [step]
    assert step.metrics() == {"train_loss": 3.0, "learning_rate": 1e-4, "epoch": 0.2}
    assert round(event("eval", 2, val_loss=1.0).metrics()["val_perplexity"], 4) == 2.7183
    assert event("done", 2, val_loss=1.0).metrics() == {}
