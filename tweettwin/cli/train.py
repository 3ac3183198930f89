"""`tweettwin train`: fine-tune a base model on a dataset folder into a model folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from tweettwin.cli import cli
from tweettwin.train_config import METHODS, PRECISIONS, TrainConfig

_h = TrainConfig.help
_d = TrainConfig.__dataclass_fields__


def _default(name: str):
    return _d[name].default


@cli.command(name="train")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    help="Model folder to write [default: model/ beside the dataset folder].",
)
@click.option(
    "--base-model", default=_default("base_model"), show_default=True, help=_h("base_model")
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default=_default("method"),
    show_default=True,
    help=_h("method"),
)
@click.option(
    "--epochs", type=float, default=_default("epochs"), show_default=True, help=_h("epochs")
)
@click.option("--max-steps", type=click.IntRange(min=1), help=_h("max_steps"))
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), help=_h("max_minutes"))
@click.option(
    "--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), help=_h("learning_rate")
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=_default("batch_size"),
    show_default=True,
    help=_h("batch_size"),
)
@click.option(
    "--block-size",
    type=click.IntRange(min=8),
    default=_default("block_size"),
    show_default=True,
    help=_h("block_size"),
)
@click.option("--author-tags", is_flag=True, help=_h("author_tags"))
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="auto",
    show_default=True,
    help=_h("precision"),
)
@click.option("--compile", "compile_", is_flag=True, help=_h("compile"))
@click.option("--seed", type=int, default=_default("seed"), show_default=True, help=_h("seed"))
@click.option("--resume", is_flag=True, help=_h("resume"))
@click.option("--overwrite", is_flag=True, help=_h("overwrite"))
@click.option(
    "--report-to",
    multiple=True,
    metavar="NAME",
    help="Also send metrics to wandb, mlflow or tensorboard (repeatable or comma-separated).",
)
@click.option(
    "--json", "json_", is_flag=True, help="Print the result as one JSON object on stdout."
)
def train_command(dataset_dir, output, compile_, report_to, json_, **options) -> None:
    """Fine-tune a base model on DATASET_DIR (made by `tweettwin prepare`) into a model folder.

    Ctrl-C saves a checkpoint; run the same command with --resume to continue. Runs as DDP under
    `accelerate launch -m tweettwin train ...`.
    """
    from tweettwin.tracking import start_run

    config = TrainConfig(compile=compile_, **{k: v for k, v in options.items() if v is not None})
    output = Path(output) if output else Path(dataset_dir).resolve().parent / "model"
    main = int(os.environ.get("RANK", "0")) == 0  # under accelerate launch, only rank 0 reports
    from tweettwin.ml.train import TrainingInterrupted, train

    try:
        if main:
            with start_run("train", config.to_dict(), report_to=report_to) as run:
                run.use_dataset(dataset_dir)
                result = train(dataset_dir, output, config, tracker=run)
                run.log_model(output)  # weights hash: `tweettwin runs lineage` finds this run
                run.set_lineage(
                    dataset_dir=str(dataset_dir),
                    model_dir=str(output),
                    dataset_hash=result.training["dataset"]["content_hash"],
                    base_model=result.training["base_model"]["model_id"],
                    base_model_hash=result.training["base_model"]["weights_sha256"],
                )
                run.finish(outputs={"model_dir": str(output)})
        else:
            result = train(dataset_dir, output, config, progress=False)
    except TrainingInterrupted as ex:
        click.echo(str(ex), err=True)
        raise SystemExit(130) from None
    if not main:
        return
    if json_:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    m = result.metrics
    click.echo(
        f"Trained {result.steps} steps ({result.epochs:.2f} epochs, {result.stop_reason}) in "
        f"{result.wall_time_s / 60:.1f} min at {result.tokens_per_s:.0f} tokens/s; validation loss "
        f"{m['base_val_loss']:.3f} -> {m['best_val_loss']:.3f} (perplexity "
        f"{m['base_val_perplexity']:.1f} -> "
        f"{m['best_val_perplexity']:.1f}).",
        err=True,
    )
    click.echo(result.output_dir)
