"""`tweettwin generate`: write new posts with a trained model folder.

The options, their defaults, help and checks are :class:`GenerateOptions`'; this module only maps
flags onto it, loads the twin (``load_twin``: tests put a ``FakeTwin`` there) and prints.
"""

from __future__ import annotations

import json

import click

from tweettwin.cli import cli
from tweettwin.generate_options import GenerateOptions, PostEvent

_h = GenerateOptions.help


def load_twin(model_dir: str, *, exact: bool = False):
    """The twin for MODEL_DIR (imports torch: only called when a command runs)."""
    from tweettwin.errors import require

    require("torch", "Generating posts", "ml")
    from tweettwin.ml.twin import Twin

    return Twin.load(model_dir, quantize=False if exact else None)


@cli.command(name="generate")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("prompt", required=False)
@click.option("-n", "--num", "n", type=int, default=GenerateOptions.n, show_default=True,
              help=_h("n"))  # fmt: skip
@click.option("--temperature", type=float, help=_h("temperature"))
@click.option("--top-p", type=float, help=_h("top_p"))
@click.option("--top-k", type=int, help=_h("top_k"))
@click.option("--min-p", type=float, help=_h("min_p"))
@click.option("--max-new-tokens", type=int, help=_h("max_new_tokens"))
@click.option("--warm-up", type=int, help=_h("warm_up"))
@click.option("--seed", type=int, help=_h("seed"))
@click.option("--author", help=_h("author"))
@click.option("--full-vocab", is_flag=True, help=_h("full_vocab"))
@click.option("--model-start", is_flag=True, help=_h("model_start"))
@click.option(
    "--no-novelty-guard",
    is_flag=True,
    help="Keep samples that copy a training post (by default they are dropped and resampled).",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Decode with the model's own weights (where the compute is fp32 the default holds "
    "them in fp16: faster, held-out perplexity within 0.1%).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (posts, rejected, seconds, ...)."
)
def generate_command(model_dir, prompt, no_novelty_guard, exact, as_json, **flags):
    """Write N new posts with the model in MODEL_DIR, each starting with PROMPT (if given).

    Posts go to stdout as they are written, one per line (a blank line between posts when the
    model keeps line breaks); everything else goes to stderr.
    """
    from rich.console import Console

    options = GenerateOptions.from_dict(flags | {"novelty": not no_novelty_guard})
    err = Console(stderr=True)
    with err.status("Loading the model…"):
        twin = load_twin(model_dir, exact=exact)
    if as_json:
        with err.status(_writing(0, options.n)):
            result = twin.generate(prompt, options)
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        kept, rejected, seconds = len(result.posts), result.rejected, result.seconds
    else:
        kept, rejected, seconds = _print_stream(twin, prompt, options, err)
    note = f"{kept} post{'s' * (kept != 1)} in {seconds:.1f} s"
    if rejected:
        note += f"; {rejected} dropped as copies of training posts"
    err.print(f"[dim]{note}[/dim]")
    if kept < options.n:
        err.print(
            f"[yellow]Only {kept} of {options.n} posts: the other samples were empty or copies "
            "of training posts; try a higher --temperature or another prompt.[/yellow]"
        )


def _writing(done: int, n: int) -> str:
    return f"Writing {n} post{'s' * (n != 1)}… {done}/{n}"


def _print_stream(twin, prompt, options: GenerateOptions, err) -> tuple[int, int, float]:
    """Print each kept post as soon as it ends (-n 100000 shows posts at once, in order)."""
    import time

    gap = "\n\n" if twin.keep_newlines else "\n"
    kept = rejected = 0
    started = time.perf_counter()
    with err.status(_writing(0, options.n)) as status:
        for event in twin.stream(prompt, options):
            if not isinstance(event, PostEvent):
                continue
            rejected += event.reason == "copy"
            if event.kept:
                click.echo(("" if not kept else gap[1:]) + event.text)
                kept += 1
                status.update(_writing(kept, options.n))
    return kept, rejected, time.perf_counter() - started
