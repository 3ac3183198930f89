"""`tweettwin make`: prepare + train + model card + 10 sample posts, in one command."""

from __future__ import annotations

import json

import click

from tweettwin.cli import cli, current_workspace
from tweettwin.cli.options import (
    cleaning_options,
    prepare_options_from,
    source_options,
    source_options_from,
    train_config_from,
    training_options,
)
from tweettwin.cli.text import shown

_STAGES = {
    "prepare": "Reading and cleaning the posts",
    "train": "Fine-tuning the model",
    "samples": "Writing sample posts",
    "card": "Writing the model card",
}


@cli.command(name="make")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    help="Model folder to write [default: <workspace>/<handle>/model].",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing model folder (only once the new one is complete).",
)
@click.option(
    "--prompt", default="My dream is", show_default=True, help="Prompt for the sample posts."
)
@click.option(
    "-n",
    "--samples",
    "n_samples",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many sample posts to write.",
)
@cleaning_options
@source_options
@training_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout."
)
def make_command(sources, output, overwrite, prompt, n_samples, as_json, **flags):
    """Turn SOURCEs (an X archive, a Mastodon export, CSV/JSON/text files) into a model folder.

    Runs `prepare`, `train` (both recorded in `tweettwin runs`) and `card`, then prints sample
    posts. The dataset goes to <workspace>/<handle>/data.
    """
    from rich.console import Console

    from tweettwin.cli.progress import TrainProgress
    from tweettwin.pipeline.make_step import make

    console = Console(stderr=True)
    with TrainProgress() as progress:
        result = make(
            list(sources),
            output,
            train_config=train_config_from(flags),
            prepare_options=prepare_options_from(flags),
            source_options=source_options_from(flags),
            prompt=prompt,
            n_samples=n_samples,
            overwrite=overwrite,
            report_to=flags["report_to"],
            on_stage=lambda stage: console.rule(f"[bold]{_STAGES[stage]}", align="left"),
            on_event=progress,
            workspace=current_workspace(),
        )
    console.print(_table(result))
    if len(result.samples.posts) < n_samples:
        console.print(
            f"[yellow]Only {len(result.samples.posts)} of {n_samples} samples were new posts "
            "(the others copied training posts or were empty).[/yellow]"
        )
    m = result.trained.metrics
    console.print(
        f"Validation loss {m['base_val_loss']:.3f} -> {m['best_val_loss']:.3f} in "
        f"{result.trained.wall_time_s / 60:.1f} min. Model: [bold]{shown(result.model_dir)}[/] "
        f'(try: tweettwin generate {shown(result.model_dir)} "{shown(prompt)}")',
        highlight=False,
    )
    click.echo(
        json.dumps(result.to_dict(), ensure_ascii=False) if as_json else str(result.model_dir)
    )


def _table(result):
    from rich.table import Table

    s = result.samples
    title = f"{len(s.posts)} new posts for “{shown(result.prompt)}” ({s.seconds:.1f} s"
    title += f", {s.rejected} copies of training posts dropped)" if s.rejected else ")"
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("#", justify="right", style="dim")
    table.add_column("post", overflow="fold")
    for i, post in enumerate(s.posts, 1):
        table.add_row(str(i), shown(post))
    return table
