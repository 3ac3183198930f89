"""`tweettwin prepare`: import + clean SOURCEs into a dataset folder; per-author table on stderr."""

from __future__ import annotations

import contextlib
import json

import click

from tweettwin.cli import cli, current_workspace
from tweettwin.cli.options import (
    cleaning_options,
    prepare_options_from,
    source_options,
    source_options_from,
)
from tweettwin.cli.text import shown


@cli.command(name="prepare")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    help="Dataset folder [default: <workspace>/<handle>/data].",
)
@cleaning_options
@source_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout."
)
def prepare_command(sources, output, as_json, **flags) -> None:
    """Import and clean posts into a dataset folder (train.jsonl, validation.jsonl, manifest.json).

    SOURCE is an X/Twitter archive (.zip, folder or data/tweets.js), a Mastodon export (.zip or
    outbox.json), or a CSV / JSON / JSONL / text file (or a folder of them). Several SOURCEs make
    one multi-author dataset.
    """
    from rich.console import Console

    from tweettwin.pipeline import prepare_step

    console = Console(stderr=True)
    with _progress(console) as progress:
        result = prepare_step(
            list(sources),
            output,
            prepare_options_from(flags),
            source_options=source_options_from(flags),
            progress=progress,
            workspace=current_workspace(),
        )
    console.print(_table(result))
    for warning in result.warnings:
        console.print(f"[yellow]Warning:[/] {shown(warning)}", highlight=False)
    console.print(f"Dataset written to [bold]{shown(result.output)}[/]", highlight=False)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))


@contextlib.contextmanager
def _progress(console):
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} posts"),
        TimeElapsedColumn(),
    )
    # Started on the first count and only on a terminal: an error before any post was read
    # (or output piped to a file) then stays one clean line.
    bar = Progress(*columns, console=console, transient=True)
    tasks: dict[str, int] = {}

    def update(stage: str, count: int) -> None:
        if not console.is_terminal:
            return
        if not tasks:
            bar.start()
        if stage not in tasks:
            label = "Reading and cleaning" if stage == "read" else "Writing the split"
            tasks[stage] = bar.add_task(label, total=None)
        bar.update(tasks[stage], completed=count)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _table(result):
    """One column per author (plus a total for several), one row per rule, as on the model card."""
    from rich.table import Table

    reps = _columns(list(result.authors))
    opts = result.manifest["options"]
    table = Table(title="Posts per author", title_justify="left")
    table.add_column("")
    for rep in reps:
        label = rep.handle if rep.handle.startswith("(") else f"@{shown(rep.handle)}"
        table.add_column(label, justify="right")
    if len(reps) > 1:
        table.add_column("total", justify="right")

    def row(label, values):
        values = list(values)
        if len(reps) > 1:
            values.append(sum(values))
        return label, values

    def dropped(label, name, kept_note):
        label_, values = row(label, [getattr(r, name) for r in reps])
        drops = row(label, [r.dropped()[name] for r in reps])[1]
        cells = [
            f"−{d:,}" if d else (f"{v:,} kept{kept_note}" if v else "0")
            for v, d in zip(values, drops, strict=True)
        ]
        table.add_row(label_, *cells)

    table.add_row(*_fmt(row("downloaded", [r.downloaded for r in reps])))
    table.add_row(*_fmt(row("private (never used)", [-r.excluded_private for r in reps])))
    dropped("retweets / boosts", "retweets", "")
    dropped("replies", "replies", "" if not opts["strip_reply_mentions"] else " (@ stripped)")
    table.add_row(*_fmt(row(f"short (< {opts['min_words']} words)", [-r.short for r in reps])))
    table.add_row(*_fmt(row("duplicates", [-r.duplicates for r in reps])), end_section=True)
    table.add_row(*_fmt(row("[bold]kept[/]", [r.kept for r in reps])))
    table.add_row(*_fmt(row("  train", [r.train for r in reps])))
    table.add_row(*_fmt(row("  validation", [r.validation for r in reps])))
    table.add_row(*_fmt(row("characters kept", [r.chars for r in reps])))
    return table


_MAX_COLUMNS = 6  # authors shown one by one; a CSV with a million authors must not draw a million


def _columns(reps: list) -> list:
    """The authors to show: the first few, then one column summing the others."""
    if len(reps) <= _MAX_COLUMNS:
        return reps
    from tweettwin.ingest.clean import AuthorReport

    rest = reps[_MAX_COLUMNS - 1 :]
    other = AuthorReport(f"({len(rest):,} others)")
    for rep in rest:
        for name in AuthorReport.__slots__:
            value = getattr(rep, name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(other, name, getattr(other, name) + value)
    return [*reps[: _MAX_COLUMNS - 1], other]


def _fmt(labelled):
    label, values = labelled
    return [label, *(f"−{-v:,}" if v < 0 else f"{v:,}" for v in values)]
