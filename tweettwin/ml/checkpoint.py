"""Resumable checkpoints in a work folder beside the output (``.<name>.train/``).

A checkpoint holds everything needed to continue a run exactly: trainable weights, optimizer,
scheduler, RNG states, the data position (epoch, step) and the run's bookkeeping (evals so far,
best validation loss and the best weights). It is written to a temp folder and renamed, so an
interrupted write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import torch

from tweettwin.errors import ConfigError, TweettwinError

CHECKPOINT = "checkpoint"


def work_dir(output_dir: Path) -> Path:
    return output_dir.parent / f".{output_dir.name}.train"


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


def trainable_state(model) -> dict[str, torch.Tensor]:
    """CPU copies of the parameters that training changes (all for full FT, adapters for LoRA)."""
    return {
        n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad
    }


def load_trainable_state(model, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def rng_state() -> dict:
    return {"python": random.getstate(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])


def save(
    work: Path, *, model, optimizer, scheduler, progress: dict, best_state, config: dict
) -> Path:
    """Write ``work/checkpoint`` atomically; ``progress`` is JSON-able bookkeeping."""
    work.mkdir(parents=True, exist_ok=True)
    target = work / CHECKPOINT
    tmp = work / f"{CHECKPOINT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(
        {
            "model": trainable_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
            "best": best_state,
        },
        tmp / "state.pt",
    )
    (tmp / "progress.json").write_text(json.dumps({"config": config, **progress}, indent=2))
    old = work / f"{CHECKPOINT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def load(work: Path, config: dict) -> tuple[dict, dict]:
    """``(state, progress)`` of the checkpoint in ``work``; refuses one made with other settings."""
    target = work / CHECKPOINT
    if not (target / "progress.json").is_file():
        raise ConfigError(f"nothing to resume: no checkpoint in {target}; start without --resume")
    progress = json.loads((target / "progress.json").read_text())
    changed = [k for k, v in config.items() if k not in _FREE and progress["config"].get(k) != v]
    if changed:
        raise ConfigError(
            f"cannot resume: the checkpoint in {target} was made with different "
            f"{', '.join(changed)}; "
            "use the same options or start again with --overwrite"
        )
    state = torch.load(target / "state.pt", map_location="cpu", weights_only=False)
    return state, progress


# Options that may differ between the interrupted run and the resumed one.
_FREE = {"resume", "overwrite", "max_minutes", "checkpoint_minutes"}
