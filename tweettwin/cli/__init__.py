"""The ``tweettwin`` command. Each subcommand lives in its own module and only parses options,
calls one library function and renders the result: no logic here.

stdout carries results (``--json``, generated posts); progress and tables go to stderr.
"""

from __future__ import annotations

import os

import click

from tweettwin import __version__
from tweettwin.errors import TweettwinError
from tweettwin.paths import WORKSPACE_ENV


class UserError(click.ClickException):
    exit_code = 2


class TweettwinGroup(click.Group):
    """Turns library errors into one clean line and exit code 2 (never a traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TweettwinError as ex:
            raise UserError(str(ex)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=TweettwinGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tweettwin")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False),
    help=(
        "Workspace folder for datasets, models and the run registry "
        f"[env: {WORKSPACE_ENV}; default ./tweettwin]."
    ),
)
def cli(workspace: str | None) -> None:
    """Turn your own posts into a small language model that writes new posts in your voice."""
    if workspace:
        os.environ[WORKSPACE_ENV] = workspace


def main() -> None:
    cli(prog_name="tweettwin")


# Subcommands register themselves on ``cli``; they import after it exists (and stay torch-free).
from tweettwin.cli import (  # noqa: E402, F401
    card,
    fetch,
    generate,
    make,
    prepare,
    push,
    runs,
    train,
)
