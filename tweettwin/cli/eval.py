"""`tweettwin eval`: how close a model's posts are to the real ones, and how much it copies."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tweettwin.cli import cli, current_workspace


@cli.command(name="eval")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option(
    "--dataset",
    type=click.Path(file_okay=False),
    help="Dataset folder to score against [default: the one the model was trained on].",
)
@click.option(
    "--samples",
    type=click.IntRange(min=10),
    default=200,
    show_default=True,
    help="How many posts to generate and compare with the held-out ones.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for sampling.")
@click.option(
    "--embedding",
    type=click.Choice(["minilm", "wordllama", "hidden"]),
    help="Post embedding for the distribution scores [default: minilm].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the eval.json object on stdout.")
@click.option("--open", "open_report", is_flag=True, help="Open report.html when done.")
def eval_command(model_dir, dataset, samples, seed, embedding, as_json, open_report):
    """Score the model in MODEL_DIR against its held-out posts.

    Held-out perplexity (and the base model's), style habits, a real-vs-generated classifier
    (the headline: 0.5 = indistinguishable), Fréchet and kernel distances, diversity and
    copy rates.
    Writes eval.json and report.html into MODEL_DIR and records an "eval" run.
    """
    from rich.console import Console

    from tweettwin.cli.progress import StageProgress
    from tweettwin.pipeline import eval_step

    err = Console(stderr=True)
    with StageProgress("eval", total=samples) as bar:
        result = eval_step(
            model_dir,
            dataset,
            samples=samples,
            seed=seed,
            embedding=embedding,
            progress=bar.advance,
            stage=bar.stage,
            on_warning=lambda w: err.print(f"[yellow]Warning: {w}[/yellow]"),
            workspace=current_workspace(),
        )
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    _summary(err, result)
    if open_report:
        click.launch(str(Path(model_dir) / "report.html"))


def _summary(err, r: dict) -> None:
    from tweettwin.evaluate.report import readings

    for name, value, reading in readings(r):
        err.print(f"[bold]{name:<17}[/bold] {value:>9}  [dim]{reading}[/dim]")
    err.print(
        f"[dim]{r['samples']} samples in {r['seconds']:.0f} s; eval.json and report.html "
        f"written to {r['model']['path']}[/dim]"
    )
