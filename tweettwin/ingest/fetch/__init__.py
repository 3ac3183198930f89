"""``tweettwin fetch``: download a public account's posts into a folder that ``prepare`` reads.

SOURCE specs: ``mastodon:@user@instance.social``, ``bluesky:handle.bsky.social``, ``x:@handle``.

Each page is committed to disk as it arrives (see ``store``), so an interrupted fetch resumes
where it stopped, and ``update=True`` fetches only posts newer than the newest one stored.

A fetch is a sequence of *passes*. The first pass walks the timeline from the newest post to
the oldest; an update pass walks from the newest down to the newest post already stored. The
open pass (its cursor) lives in the manifest, so any rerun continues it first. ``limit`` caps
the posts a pass stores: a pass stopped by the limit stays open, and a rerun with a higher
limit (or none) continues it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from tweettwin.errors import ConfigError, FetchError, OutputError
from tweettwin.ingest.fetch.base import Platform
from tweettwin.ingest.fetch.http import HttpClient

# The limits and PLATFORMS stay importable from here, as before the split.
from tweettwin.ingest.fetch.passes import (  # noqa: F401
    COUNT_SLACK,
    MAX_EMPTY_PAGES,
    MAX_POSTS_PER_PASS,
    run_passes,
)
from tweettwin.ingest.fetch.result import FetchProgress, FetchResult, ProgressCallback
from tweettwin.ingest.fetch.spec import (  # noqa: F401
    PLATFORMS,
    FetchSpec,
    check_api_base,
    default_output,
    is_fetch_spec,
    parse_spec,
)
from tweettwin.ingest.fetch.store import FetchStore
from tweettwin.workspace import Workspace


def fetch(
    spec: str,
    output: str | Path | None = None,
    api_base: str | None = None,
    limit: int | None = None,
    update: bool = False,
    yes: bool = False,
    progress: ProgressCallback | None = None,
    client: HttpClient | None = None,
    workspace: Workspace | str | Path | None = None,
) -> FetchResult:
    """Fetch the public posts of ``spec`` into ``output`` (resuming or updating what is there).

    ``limit`` caps the posts stored by one pass (the first fetch, or one ``update``). X bills
    reads: without ``limit``, an X fetch estimated above ``x_api.CONFIRM_READS`` reads needs
    ``yes=True``; an explicit ``limit`` is consent to read that many. ``output`` defaults to
    ``<workspace>/<handle>/raw/<platform>``.
    """
    parsed = parse_spec(spec)
    _check_options(limit, api_base)
    report = progress or (lambda event: None)
    own_client = client is None
    if client is None:
        client = HttpClient(
            on_wait=lambda s, why: report(FetchProgress("wait", message=why, seconds=s))
        )
    try:
        platform = _platform(parsed, (api_base or parsed.default_api).rstrip("/"), client)
        check_api_base(platform.api_base)
        account = platform.lookup()
        report(FetchProgress("account", expected=account.posts_count, message=f"{account.handle}"))
        out = Path(output) if output else default_output(parsed, workspace)
        reads, cost = _confirm_cost(platform, account, out, limit, yes, report)
        with _writing(out):
            store = FetchStore.open(
                out,
                platform=platform.name,
                source=platform.source,
                spec=parsed.spec,
                api_base=platform.api_base,
                account=account.to_dict(),
            )
        result = FetchResult(platform.name, account.handle, out, 0, store.count, False, reads, cost)
        _run(platform, account, store, limit=limit, update=update, report=report, result=result)
        return _finish(result, platform, account, store, report)
    finally:
        if own_client:
            client.close()


def _check_options(limit: int | None, api_base: str | None) -> None:
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1 (got {limit})")
    if api_base is not None:
        check_api_base(api_base)  # before anything: a password in it must go nowhere


def _run(platform, account, store: FetchStore, *, limit, update, report, result) -> None:
    """The passes; a failure after some posts were stored says they are kept."""
    try:
        with _writing(store.path):
            run_passes(
                platform, account, store, limit=limit, update=update, report=report,
                result=result,
            )  # fmt: skip
    except (FetchError, OutputError) as ex:
        if store.count:
            raise type(ex)(
                f"{ex} ({store.count} posts fetched so far are kept in {store.path};"
                " rerun to resume)"
            ) from None
        raise


def _finish(result, platform, account, store, report) -> FetchResult:
    """Fill in what the passes leave: the totals from the folder (which holds earlier runs'
    posts too), whether nothing is left open, and one warning for all skipped items."""
    if result.skipped:
        result.warnings.append(
            f"{platform.title} sent {result.skipped} item(s) without a usable id; skipped"
        )
    result.total = store.count
    result.complete = bool(store.manifest["complete"]) and store.manifest["pass"] is None
    report(
        FetchProgress(
            "done", stored=result.total, fetched=result.fetched, expected=account.posts_count
        )
    )
    return result


def _platform(parsed: FetchSpec, api_base: str, client: HttpClient) -> Platform:
    if parsed.platform == "mastodon":
        from tweettwin.ingest.fetch.mastodon import Mastodon

        return Mastodon(client, parsed.handle, api_base)
    if parsed.platform == "bluesky":
        from tweettwin.ingest.fetch.bluesky import Bluesky

        return Bluesky(client, parsed.handle, api_base)
    from tweettwin.ingest.fetch.x_api import XApi, bearer_token

    return XApi(client, parsed.handle, api_base, bearer_token())


@contextlib.contextmanager
def _writing(out: Path):
    """A fetch folder that cannot be written (a file in the way, a full or read-only disk)."""
    try:
        yield
    except OSError as ex:
        raise OutputError(
            f"cannot write to {out} ({ex.strerror or type(ex).__name__}): check that it is a"
            " folder on a writable disk with space, or choose another -o"
        ) from None


def _confirm_cost(platform, account, out, limit, yes, report) -> tuple[int | None, float | None]:
    """X only: announce the estimated reads and their price; refuse a large uncapped fetch
    without ``yes``. Returns (reads, USD), or (None, None) for free platforms."""
    if platform.name != "x":
        return None, None
    from tweettwin.ingest.fetch.store import is_fetch_folder, read_manifest
    from tweettwin.ingest.fetch.x_api import CONFIRM_READS, PRICE_PER_POST, estimate_reads

    stored = read_manifest(out).get("items", 0) if is_fetch_folder(out) else 0
    reads = estimate_reads(account, stored, limit)
    cost = (
        f"about {reads:,} post reads (≈ ${reads * PRICE_PER_POST:,.2f} at ${PRICE_PER_POST}/post)"
    )
    report(
        FetchProgress(
            "estimate", stored=stored, expected=account.posts_count, message=f"X API: {cost}"
        )
    )
    if limit is None and reads > CONFIRM_READS and not yes:
        raise ConfigError(
            f"X bills every post read and this fetch would need {cost}; pass --yes to go ahead,"
            " or --limit N to read at most N posts"
        )
    return reads, round(reads * PRICE_PER_POST, 2)


__all__ = [
    "FetchProgress",
    "FetchResult",
    "FetchSpec",
    "default_output",
    "fetch",
    "is_fetch_spec",
    "parse_spec",
]
