"""What a training run reports: eval records, the TrainResult and the training.json record."""

from __future__ import annotations

import math
from pathlib import Path

from tweettwin.ml.data import post_token_stats
from tweettwin.ml.env import hardware, versions
from tweettwin.model_folder import TrainingRecord
from tweettwin.paths import public_path
from tweettwin.train_config import TrainResult


def record_eval(state, step: int, val_loss: float, epoch: float) -> None:
    state.evals.append(
        {
            "step": step,
            "epoch": round(epoch, 3),
            "val_loss": round(val_loss, 5),
            "val_perplexity": round(math.exp(val_loss), 3),
            "tokens": state.tokens,
            "train_seconds": round(state.train_seconds, 1),
        }
    )


def resumable(config) -> dict:
    return config.to_dict()


def build_result(state, config, output_dir: Path, wall: float, steps_per_epoch: int) -> TrainResult:
    best = state.best_val_loss if state.best_val_loss < math.inf else state.base_val_loss
    metrics = {
        "base_val_loss": state.base_val_loss,
        "base_val_perplexity": math.exp(state.base_val_loss),
        "best_val_loss": best,
        "best_val_perplexity": math.exp(best),
        "best_step": state.best_step,
        "final_val_loss": state.evals[-1]["val_loss"],
        "steps": state.step,
        "epochs": state.step / steps_per_epoch,
        "tokens": state.tokens,
    }
    tps = state.tokens / state.train_seconds if state.train_seconds else 0.0
    return TrainResult(
        str(output_dir), metrics, wall, tps, state.step, metrics["epochs"], state.stop_reason
    )


def training_record(
    result, state, config, base, data, precision, accelerator, train_ids, sep
) -> TrainingRecord:
    return TrainingRecord(
        hyperparameters=config.to_dict(),
        precision=precision,
        separator=sep,
        author_tags=config.author_tags,
        keep_newlines=data.keep_newlines,
        authors=sorted({r.get("author") or "" for r in data.train} - {""}),
        metrics=result.metrics,
        evals=state.evals,
        stop_reason=state.stop_reason,
        wall_time_s=round(result.wall_time_s, 1),
        train_time_s=round(state.train_seconds, 1),
        tokens_per_s=round(result.tokens_per_s, 1),
        hardware=hardware(accelerator.device, accelerator.num_processes),
        versions=versions(),
        base_model=base.to_dict(),
        dataset={
            "path": public_path(data.path),
            "content_hash": data.manifest.get("content_hash"),
            "train_posts": len(data.train),
            "validation_posts": len(data.validation),
            "train_tokens": post_token_stats(train_ids),
        },
    )
