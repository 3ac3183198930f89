"""The ``tweettwin`` command. Each subcommand lives in its own module and only parses options,
calls one library function and renders the result: no logic here.

stdout carries results (``--json``, generated posts); progress and tables go to stderr.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import click

from tweettwin import __version__
from tweettwin.errors import TrainingInterrupted, TweettwinError, TweettwinWarning
from tweettwin.paths import WORKSPACE_ENV
from tweettwin.workspace import Workspace


class UserError(click.ClickException):
    exit_code = 2


class TweettwinGroup(click.Group):
    """Turns library errors into one clean line and exit code 2 (never a traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            with _warnings_as_lines():
                return super().invoke(ctx)
        except TrainingInterrupted as ex:  # not an error: say how to resume, exit as Ctrl-C does
            click.echo(str(ex), err=True)
            ctx.exit(ex.exit_code)
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
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """Turn your own posts into a small language model that writes new posts in your voice."""
    ctx.obj = Workspace.resolve(workspace)


def current_workspace() -> Workspace:
    """The workspace of the command being run (``--workspace``, else the environment's)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Workspace) if ctx else None
    return found or Workspace.resolve()


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show tweettwin's own warnings as one ``Warning:`` line on stderr, each message once."""
    shown: set[str] = set()
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, TweettwinWarning):
            return previous(message, category, filename, lineno, file, line)
        if str(message) not in shown:
            shown.add(str(message))
            click.echo(f"Warning: {message}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always", TweettwinWarning)  # `shown` de-duplicates instead
        warnings.showwarning = show
        yield


def main() -> None:
    cli(prog_name="tweettwin")


# Subcommands register themselves on ``cli``; they import after it exists (and stay torch-free).
from tweettwin.cli import (  # noqa: E402, F401
    card,
    eval,
    export,
    fetch,
    generate,
    make,
    prepare,
    push,
    runs,
    serve,
    train,
)
