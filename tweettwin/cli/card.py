"""`tweettwin card DIR`: re-render a model folder's README.md, optionally with a preview picture."""

from __future__ import annotations

import json

import click

from tweettwin.cli import cli, current_workspace


@cli.command(name="card")
@click.argument("model_dir", metavar="DIR", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--preview",
    "preview_prompt",
    metavar="PROMPT",
    help='Generate one post for PROMPT (e.g. "My dream is") and draw it as preview.png, '
    "the card's thumbnail.",
)
@click.option("--preview-text", help="Draw this text as preview.png instead of generating a post.")
@click.option(
    "-n",
    "--samples",
    "n_samples",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Generate this many sample posts for the card (prompt: --preview or 'My dream is').",
)
@click.option("--repo-id", help="Hub id to use in the card's usage snippet and thumbnail URL.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a README.md that tweettwin did not write (your own card).",
)
@click.option("--json", "json_", is_flag=True, help="Print the written paths as JSON on stdout.")
def card_command(
    model_dir, preview_prompt, preview_text, n_samples, repo_id, overwrite, json_
) -> None:
    """Re-render DIR/README.md (the model card) from training.json and dataset_manifest.json."""
    from tweettwin.publish.card import write_card

    written = write_card(
        model_dir,
        preview_prompt,
        n_samples=n_samples,
        preview_text=preview_text,
        repo_id=repo_id,
        workspace=current_workspace(),
        overwrite=overwrite,
    )
    if json_:
        click.echo(json.dumps(written))
        return
    for kind, path in written.items():
        click.echo(f"{kind}: {path}")
