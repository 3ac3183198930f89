"""`tweettwin fetch`."""

from __future__ import annotations

import json
import time

import click

from tweettwin.cli import cli, current_workspace
from tweettwin.cli.text import shown


@cli.command(name="fetch")
@click.argument("source")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Folder to write [default: <workspace>/<handle>/raw/<platform>].",
)
@click.option(
    "--api-base",
    metavar="URL",
    help="API address: a self-hosted instance, a proxy or a test server "
    "[default: https://<instance>, https://public.api.bsky.app, https://api.x.com].",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Store at most N posts in this pass (the first fetch, or one --update); "
    "rerun with a higher limit to continue.",
)
@click.option(
    "--update", is_flag=True, help="Fetch only posts newer than the newest one in the folder."
)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="X only: go ahead with a fetch estimated above 100 billed reads and no --limit.",
)
@click.option(
    "--json", "json_", is_flag=True, help="Print the result as one JSON object on stdout."
)
def fetch_command(source, output, api_base, limit, update, yes, json_):
    """Download the public posts of an account into a folder that `prepare` reads.

    \b
    SOURCE is one of:
      mastodon:@user@instance.social   public and unlisted posts (no login)
      bluesky:handle.bsky.social       posts from the public AppView (no login)
      x:@handle                        X API v2; needs X_BEARER_TOKEN; at most the 3,200 newest

    Boosts/reposts and replies are kept in the folder; `prepare` counts them and applies its rules.
    Every page is saved as it arrives: after Ctrl-C or a failure, run the same command again to
    resume. X bills each post read (about $0.005): the estimate is printed first, and a fetch
    above 100 reads needs --yes unless --limit caps it.

    \b
    Examples:
      tweettwin fetch mastodon:@alice@mastodon.social
      tweettwin fetch bluesky:alice.bsky.social --update
      X_BEARER_TOKEN=... tweettwin fetch x:@alice --limit 500
    """
    from tweettwin.ingest.fetch import default_output, is_fetch_spec
    from tweettwin.ingest.fetch.http import HttpClient
    from tweettwin.pipeline import fetch_step

    progress = _FetchBar(source)
    workspace = current_workspace()
    if is_fetch_spec(source) and output is None:
        output = str(default_output(source, workspace))
    client = HttpClient(sleep=progress.countdown, on_wait=progress.on_wait)
    try:
        with progress.bar:
            result = fetch_step(
                source,
                output,
                api_base=api_base,
                limit=limit,
                update=update,
                yes=yes,
                progress=progress.on_progress,
                client=client,
                workspace=workspace,
            )
    except KeyboardInterrupt:
        where = f" in {output}" if output else ""
        progress.console.print(
            f"Interrupted: the pages fetched so far are kept{where};"
            " run the same command to resume."
        )
        raise SystemExit(130) from None
    finally:
        client.close()
    _print_result(progress.console, result, json_)


class _FetchBar:
    """The fetch's progress on stderr: a bar of posts stored, and waits that count down."""

    def __init__(self, source: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        self.source = source
        self.console = Console(stderr=True, soft_wrap=True)
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self.console,
            transient=True,
        )
        self.task = self.bar.add_task(f"Fetching {shown(source)}", total=None)

    def on_progress(self, event) -> None:
        bar, task = self.bar, self.task
        if event.event == "account":
            bar.update(task, description=f"Fetching {shown(event.message)}", total=event.expected)
        elif event.event == "estimate":
            self.console.print(shown(event.message))
        elif event.event in ("page", "done"):
            bar.update(
                task, completed=event.stored, total=max(event.expected or 0, event.stored) or None
            )

    def on_wait(self, seconds, reason) -> None:
        self.bar.update(self.task, description=f"{shown(reason)}: waiting {seconds:.0f} s")

    def countdown(self, seconds) -> None:
        # A visible wait: the bar's description ticks down once a second.
        end = time.monotonic() + seconds
        description = self.bar.tasks[0].description.rsplit(": waiting", 1)[0]
        while (left := end - time.monotonic()) > 0:
            self.bar.update(self.task, description=f"{description}: waiting {left:.0f} s")
            time.sleep(min(1.0, left))
        self.bar.update(self.task, description=f"Fetching {shown(self.source)}")


def _print_result(console, result, json_: bool) -> None:
    for warning in result.warnings:
        console.print(f"[yellow]Warning:[/] {shown(warning)}")
    if json_:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    state = "complete" if result.complete else "partial (rerun to continue)"
    console.print(
        f"Fetched {result.fetched:,} new posts of {shown(result.account)}; "
        f"{result.total:,} in {shown(result.output)} ({state})."
    )
    click.echo(str(result.output))
