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
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tweettwin.errors import ConfigError, FetchError, InputError, OutputError
from tweettwin.ingest.fetch.base import Account, Platform
from tweettwin.ingest.fetch.http import HttpClient
from tweettwin.ingest.fetch.store import FetchStore, iter_items
from tweettwin.workspace import Workspace

PLATFORMS = ("mastodon", "bluesky", "x")
MAX_EMPTY_PAGES = 5  # pages in a row with nothing new before we call the pagination endless
# However many posts a server claims or keeps sending, one pass stores at most this many.
MAX_POSTS_PER_PASS = 1_000_000
# Posts beyond the account's own count tolerated in one pass (it may post while we fetch).
COUNT_SLACK = 100

_MASTODON = re.compile(
    r"^@?(?P<user>[A-Za-z0-9_][A-Za-z0-9_.-]*)@(?P<host>[A-Za-z0-9.-]+(?::\d+)?)$"
)
_BLUESKY = re.compile(r"^@?(?P<handle>did:[a-z]+:[A-Za-z0-9._:%-]+|[A-Za-z0-9][A-Za-z0-9.-]*)$")
_X = re.compile(r"^@?(?P<handle>[A-Za-z0-9_]{1,15})$")


@dataclass(frozen=True)
class FetchSpec:
    platform: str  # "mastodon", "bluesky", "x"
    handle: str  # mastodon "user@host", bluesky "alice.bsky.social" or a DID, x "alice"
    spec: str  # as given

    @property
    def default_api(self) -> str:
        if self.platform == "mastodon":
            host = self.handle.partition("@")[2]
            # A development instance on this machine speaks plain HTTP (Mastodon's dev server does).
            local = host.split(":")[0] in ("localhost", "127.0.0.1")
            return f"{'http' if local else 'https'}://{host}"
        if self.platform == "bluesky":
            return "https://public.api.bsky.app"
        return "https://api.x.com"


@dataclass
class FetchProgress:
    """What the fetch is doing, for a progress display (the CLI draws a bar)."""

    event: str  # "account", "estimate", "page", "wait", "done"
    stored: int = 0  # posts in the folder
    fetched: int = 0  # posts stored by this run
    expected: int | None = None  # posts the account has, when the platform says
    message: str = ""
    seconds: float | None = None  # for "wait"


@dataclass
class FetchResult:
    platform: str
    account: str  # handle
    output: Path
    fetched: int  # posts stored by this run
    total: int  # posts in the folder
    complete: bool  # the whole available timeline is in the folder
    estimated_reads: int | None = None  # X only: posts billed by this run (estimate)
    estimated_cost_usd: float | None = None
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None  # the registry's "fetch" run (set by tweettwin.pipeline)
    skipped: int = 0  # items the server sent without a usable id

    def to_dict(self) -> dict:
        data = asdict(self)
        data["output"] = str(self.output)
        return data


ProgressCallback = Callable[[FetchProgress], None]


def is_fetch_spec(spec: str) -> bool:
    """True for ``mastodon:…``, ``bluesky:…`` and ``x:…`` (not for a path that exists)."""
    prefix, sep, _ = str(spec).partition(":")
    return bool(sep) and prefix.lower() in PLATFORMS and not _exists(Path(spec))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system names no file
        return False


def parse_spec(spec: str) -> FetchSpec:
    prefix, sep, rest = str(spec).strip().partition(":")
    platform = prefix.lower()
    if not sep or platform not in PLATFORMS:
        raise InputError(
            f"unknown SOURCE {spec!r}: use mastodon:@user@instance,"
            " bluesky:handle.bsky.social or x:@handle"
        )
    rest = rest.strip()
    if platform == "mastodon":
        m = _MASTODON.match(rest)
        if not m:
            raise InputError(
                f"{spec!r}: a Mastodon handle looks like mastodon:@user@instance.social"
            )
        return FetchSpec("mastodon", f"{m['user']}@{m['host'].lower()}", spec)
    if platform == "bluesky":
        m = _BLUESKY.match(rest)
        if not m:
            raise InputError(f"{spec!r}: a Bluesky handle looks like bluesky:alice.bsky.social")
        handle = m["handle"]
        if not handle.startswith("did:"):
            handle = handle.lower() if "." in handle else f"{handle.lower()}.bsky.social"
        return FetchSpec("bluesky", handle, spec)
    m = _X.match(rest)
    if not m:
        raise InputError(
            f"{spec!r}: an X handle looks like x:@handle (letters, digits, _; 15 at most)"
        )
    return FetchSpec("x", m["handle"], spec)


def default_output(spec: str | FetchSpec, root: Workspace | str | Path | None = None) -> Path:
    """``<workspace>/<handle>/raw/<platform>``: where fetches (and ``prepare handle``) put posts."""
    parsed = spec if isinstance(spec, FetchSpec) else parse_spec(spec)
    return Workspace.resolve(root).raw_dir(parsed.handle, parsed.platform)


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
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1 (got {limit})")
    if api_base is not None:
        _check_api_base(api_base)  # before anything: a password in it must go nowhere
    report = progress or (lambda event: None)
    own_client = client is None
    if client is None:
        client = HttpClient(
            on_wait=lambda s, why: report(FetchProgress("wait", message=why, seconds=s))
        )
    try:
        platform = _platform(parsed, (api_base or parsed.default_api).rstrip("/"), client)
        _check_api_base(platform.api_base)
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
        try:
            with _writing(out):
                _run(
                    platform, account, store, limit=limit, update=update, report=report,
                    result=result,
                )  # fmt: skip
        except (FetchError, OutputError) as ex:
            if store.count:
                raise type(ex)(
                    f"{ex} ({store.count} posts fetched so far are kept in {out}; rerun to resume)"
                ) from None
            raise
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
    finally:
        if own_client:
            client.close()


def _platform(parsed: FetchSpec, api_base: str, client: HttpClient) -> Platform:
    if parsed.platform == "mastodon":
        from tweettwin.ingest.fetch.mastodon import Mastodon

        return Mastodon(client, parsed.handle, api_base)
    if parsed.platform == "bluesky":
        from tweettwin.ingest.fetch.bluesky import Bluesky

        return Bluesky(client, parsed.handle, api_base)
    from tweettwin.ingest.fetch.x_api import XApi, bearer_token

    return XApi(client, parsed.handle, api_base, bearer_token())


def _check_api_base(api_base: str) -> None:
    """An http(s) URL without credentials: the address is stored in the fetch folder's manifest
    and shown in messages, so a user:password (or a token in the query) would leak."""
    try:
        parts = urlsplit(api_base)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is not None and (parts.username is not None or parts.password is not None):
        shown = f"{parts.scheme}://***@{host or ''}"
        raise ConfigError(
            f"--api-base must not hold a user name or password (got {shown}); tweettwin reads"
            " public posts without a login: give the address alone, like https://host"
        )
    if parts is not None and (parts.query or parts.fragment):
        raise ConfigError(
            f"--api-base must be a plain address without ?query or #fragment (got"
            f" {parts.scheme}://{parts.netloc}{parts.path}?...): tokens do not belong in it"
        )
    if parts is None or parts.scheme not in ("http", "https") or not host:
        # Unparsable: whatever precedes an "@" may be a password, so it is never echoed.
        shown = "***@" + api_base.rsplit("@", 1)[1] if "@" in api_base else api_base
        raise ConfigError(
            f"--api-base must be an http(s) URL like https://mastodon.social (got {shown!r})"
        )


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


def _run(
    platform: Platform,
    account: Account,
    store: FetchStore,
    *,
    limit: int | None,
    update: bool,
    report: ProgressCallback,
    result: FetchResult,
) -> None:
    manifest = store.manifest
    state = manifest["pass"]
    if state is None:
        if not manifest["complete"]:
            state = _new_pass("full", None, store)
        elif update:
            state = _new_pass("update", manifest["newest_id"], store)
        else:
            return  # already complete: nothing to do without --update
        manifest["pass"] = state
        manifest["stopped"] = None
        store.save()
    known = store.keys(platform.key)
    seen_cursors = {state["cursor"]}
    empty_pages = 0
    bound = _pass_bound(platform, account)
    # Posts of this pass that count in the account's total (a resumed pass has some already).
    counted = sum(
        1
        for i, item in enumerate(iter_items(store.path, store.manifest))
        if i >= state["start_items"] and platform.counted(item)
    )
    while True:
        in_pass = store.count - state["start_items"]
        if limit is not None and in_pass >= limit:
            manifest["stopped"] = "limit"
            store.save()
            return
        size = (
            platform.max_page
            if limit is None
            else max(platform.min_page, min(platform.max_page, limit - in_pass))
        )
        page = platform.page(
            account, state["cursor"], state["since"] if platform.numeric_ids else None, size
        )
        new, hit_known = [], False
        for item in page.items:
            key = platform.valid_key(item)
            if key is None:  # no usable id (a broken or hostile server): cannot be stored
                result.skipped += 1
                continue
            if key in known:
                hit_known = True
                continue
            known.add(key)
            new.append(item)
        cursor = page.cursor
        if limit is not None and len(new) > limit - in_pass:
            new = new[: limit - in_pass]
            cursor = platform.cursor_after(new[-1]) or cursor
        done = cursor is None or (state["mode"] == "update" and hit_known)
        counted += sum(1 for item in new if platform.counted(item))
        if not done and counted >= bound:
            result.warnings.append(
                f"{platform.title} kept sending posts past the {bound:,} this account can have;"
                f" stopped there with {store.count + len(new):,} posts"
            )
            done = True
        empty_pages = 0 if new else empty_pages + 1
        if not done and (cursor in seen_cursors or empty_pages >= MAX_EMPTY_PAGES):
            result.warnings.append(
                f"{platform.title} kept sending the same page (cursor {cursor!r});"
                f" stopped there with {store.count + len(new)} posts,"
                " which may not be the whole timeline"
            )
            done = True
        if done and store.count + len(new) == 0:
            platform.after_empty(account)  # raises for a locked account before closing the pass
        seen_cursors.add(cursor)
        state["cursor"] = cursor
        if new:
            state["newest"] = _newest(platform, state["newest"], new)
        if done:
            _close_pass(manifest, state, platform)
        store.commit_page(new)
        result.fetched += len(new)
        report(
            FetchProgress(
                "page", stored=store.count, fetched=result.fetched, expected=account.posts_count
            )
        )
        if done:
            return


def _pass_bound(platform: Platform, account: Account) -> int:
    """The most posts one pass may store: the account's own count (plus some
    slack for posts made meanwhile) where the platform gives one, and a hard cap always, so
    a server sending endless pages of fresh ids cannot fill the disk."""
    cap = MAX_POSTS_PER_PASS
    count = account.posts_count
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        cap = min(cap, count + max(COUNT_SLACK, count // 10))
    return cap


def _new_pass(mode: str, since: str | None, store: FetchStore) -> dict:
    return {
        "mode": mode,
        "cursor": None,
        "since": since,
        "newest": None,
        "start_items": store.count,
    }


def _newest(platform: Platform, current: str | None, items: list[dict]) -> str | None:
    if not platform.numeric_ids:
        return current or platform.key(items[0])  # feed order: the first is the newest
    ids = [int(platform.key(item)) for item in items] + ([int(current)] if current else [])
    return str(max(ids))


def _close_pass(manifest: dict, state: dict, platform: Platform) -> None:
    newest = manifest["newest_id"]
    if state["newest"] is not None:
        if newest is None or not platform.numeric_ids or int(state["newest"]) > int(newest):
            newest = state["newest"]
    manifest["newest_id"] = newest
    manifest["complete"] = True
    manifest["pass"] = None


__all__ = [
    "FetchProgress",
    "FetchResult",
    "FetchSpec",
    "default_output",
    "fetch",
    "is_fetch_spec",
    "parse_spec",
]
