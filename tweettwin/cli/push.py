"""`tweettwin push DIR --repo-id NAME`: publish a model folder to the Hugging Face Hub."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from tweettwin.cli import cli
from tweettwin.cli.text import shown


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@cli.command(name="push")
@click.argument("model_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--repo-id", required=True, help="Hub repository: NAME or OWNER/NAME.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option(
    "--dry-run", is_flag=True, help="List the files that would be uploaded; send nothing."
)
@click.option("--json", "json_", is_flag=True, help="Print the result as JSON on stdout.")
def push_command(model_dir, repo_id, private, dry_run, json_) -> None:
    """Upload a model folder and its card to the Hugging Face Hub.

    The token comes from HF_TOKEN or your saved login (`hf auth login`); it is never printed.
    """
    from tweettwin.publish.hub import push

    result = push(model_dir, repo_id, private=private, dry_run=dry_run)
    if json_:
        click.echo(json.dumps(result.to_dict()))
        return
    console = Console(stderr=not dry_run)  # a dry run's file list is its result: stdout
    verb = "Would upload" if dry_run else "Uploaded"
    table = Table(
        title=f"{verb} to {result.repo_id}" + (" (private)" if private else ""),
        title_justify="left",
    )
    table.add_column("File")
    table.add_column("Size", justify="right")
    for path, size in result.files:
        table.add_row(shown(path), _size(size))
    table.add_row(f"[bold]{len(result.files)} files[/]", f"[bold]{_size(result.total_bytes)}[/]")
    console.print(table)
    for note in result.notes:
        console.print(shown(note))
    if result.url:
        click.echo(result.url)
