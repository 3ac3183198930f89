"""`tweettwin generate`: write new posts with a trained model folder."""

from __future__ import annotations

import json

import click

from tweettwin.cli import cli


@cli.command(name="generate")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("prompt", required=False)
@click.option(
    "-n",
    "--num",
    "n",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many posts to write.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    help="Sampling temperature (0 = greedy) [default: the model's, 1.0].",
)
@click.option(
    "--top-p",
    type=click.FloatRange(0, 1, min_open=True),
    help="Nucleus sampling share [default: the model's, 0.95].",
)
@click.option(
    "--top-k",
    type=click.IntRange(min=0),
    help="Sample among the k likeliest tokens, 0 = off [default: the model's, 50].",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    help="Longest post, in tokens [default: the model's, sized for the training posts].",
)
@click.option("--seed", type=int, help="Random seed: same seed, same posts.")
@click.option("--author", help="Write as this author (models trained with --author-tags).")
@click.option(
    "--no-novelty-guard",
    is_flag=True,
    help="Keep samples that copy a training post (by default they are dropped and resampled).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (posts, rejected, seconds, ...)."
)
def generate_command(
    model_dir,
    prompt,
    n,
    temperature,
    top_p,
    top_k,
    max_new_tokens,
    seed,
    author,
    no_novelty_guard,
    as_json,
):
    """Write N new posts with the model in MODEL_DIR, each starting with PROMPT (if given).

    Posts go to stdout, one per line (a blank line between posts when the model keeps line
    breaks); everything else goes to stderr.
    """
    from rich.console import Console

    from tweettwin.errors import require

    require("torch", "Generating posts", "ml")
    from tweettwin.ml.twin import Twin

    err = Console(stderr=True)
    with err.status("Loading the model…"):
        twin = Twin.load(model_dir)
    with err.status(f"Writing {n} post{'s' * (n != 1)}…"):
        result = twin.generate(
            prompt,
            n,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            max_new_tokens=max_new_tokens,
            seed=seed,
            novelty=not no_novelty_guard,
            author=author,
        )
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        gap = "\n\n" if any("\n" in p for p in result.posts) else "\n"
        if result.posts:
            click.echo(gap.join(result.posts))
    note = f"{len(result.posts)} post{'s' * (len(result.posts) != 1)} in {result.seconds:.1f} s"
    if result.rejected:
        note += f"; {result.rejected} dropped as copies of training posts"
    err.print(f"[dim]{note}[/dim]")
    if len(result.posts) < n:
        err.print(
            f"[yellow]Only {len(result.posts)} of {n} posts: the other samples were empty or "
            "copies of "
            "training posts; try a higher --temperature or another prompt.[/yellow]"
        )
