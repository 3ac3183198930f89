"""The same training code as DDP: two CPU processes (gloo) launched with torchrun, the launcher
`accelerate launch --multi_gpu` uses on GPUs. Both ranks must stay in sync; only rank 0 writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("accelerate")
pytestmark = pytest.mark.ml

WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    import torch.distributed as dist
    from tweettwin.ml import train as train_module
    from tweettwin.ml.train import train
    from tweettwin.train_config import TrainConfig

    dataset, output, base, log = sys.argv[1:5]

    step_once, steps = train_module._step, []

    def check_sync(run, rows):  # after each optimizer step: every rank holds the same weights
        loss = step_once(run, rows)
        steps.append(loss)
        step = len(steps)
        digest = hashlib.sha256()
        for p in run.model.parameters():
            digest.update(p.detach().float().numpy().tobytes())
        seen = [None] * dist.get_world_size()
        dist.all_gather_object(seen, digest.hexdigest())
        assert len(set(seen)) == 1, f"ranks diverged at step {step}"
        if dist.get_rank() == 0:
            with open(log, "a") as fh:
                fh.write(json.dumps({"step": step, "ranks": len(seen)}) + "\\n")
        return loss

    train_module._step = check_sync

    cfg = TrainConfig(base_model=base, block_size=64, batch_size=2, max_steps=4, learning_rate=3e-3)
    result = train(dataset, output, cfg)
    print(json.dumps({"rank": dist.get_rank(), "steps": result.steps}))
    """
)


def test_two_process_ddp_on_cpu(tiny_model_dir, tiny_dataset_dir, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out, log = tmp_path / "model", tmp_path / "sync.jsonl"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(tiny_dataset_dir),
        str(out),
        str(tiny_model_dir),
        str(log),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = sorted(int(r) for r in re.findall(r'"rank": (\d)', proc.stdout))  # lines may interleave
    assert ranks == [0, 1]
    steps = [json.loads(line) for line in log.read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2, 3, 4] and all(s["ranks"] == 2 for s in steps)
    training = json.loads((out / "training.json").read_text())
    assert training["hardware"]["num_processes"] == 2
    assert training["metrics"]["tokens"] == 4 * 2 * 2 * 64  # steps x ranks x blocks x block size
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".model", "model"))) == [
        "model"
    ]
