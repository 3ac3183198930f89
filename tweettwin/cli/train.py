"""`tweettwin train`: fine-tune a base model on a dataset folder into a model folder."""

from __future__ import annotations

import json

import click

from tweettwin.cli import cli, current_workspace
from tweettwin.cli.options import train_config_from, training_options
from tweettwin.train_config import TrainConfig

_h = TrainConfig.help


@cli.command(name="train")
@click.argument("dataset_dir", type=click.Path(file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    help="Model folder to write [default: model/ beside the dataset folder].",
)
@training_options
@click.option("--resume", is_flag=True, help=_h("resume"))
@click.option("--overwrite", is_flag=True, help=_h("overwrite"))
@click.option(
    "--json", "json_", is_flag=True, help="Print the result as one JSON object on stdout."
)
def train_command(dataset_dir, output, resume, overwrite, json_, **flags) -> None:
    """Fine-tune a base model on DATASET_DIR (made by `tweettwin prepare`) into a model folder.

    Ctrl-C saves a checkpoint; run the same command with --resume to continue. Runs as DDP under
    `accelerate launch -m tweettwin train ...`.
    """
    config = train_config_from(flags, resume=resume, overwrite=overwrite)  # bad values: no torch
    from tweettwin.cli.progress import TrainProgress
    from tweettwin.pipeline import is_main_process, train_step

    # Ctrl-C ends in TrainingInterrupted: the command group prints how to resume
    with TrainProgress() as progress:
        on_event = progress if is_main_process() else None  # under DDP, rank 0 alone draws
        result = train_step(
            dataset_dir,
            output,
            config,
            report_to=flags["report_to"],
            on_event=on_event,
            workspace=current_workspace(),
        )
    if not is_main_process():  # under DDP, rank 0 alone prints
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
