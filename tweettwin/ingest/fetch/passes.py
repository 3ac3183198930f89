"""The paging loop: one *pass* walks a timeline page by page and commits each page to disk.

The open pass (mode, cursor, where it started) lives in the manifest, so a rerun continues it.
The guards here (a per-pass bound, repeated cursors, empty pages) stop a broken or hostile
server from making a pass endless.
"""

from __future__ import annotations

from tweettwin.ingest.fetch.base import Account, Platform
from tweettwin.ingest.fetch.result import FetchProgress, FetchResult, ProgressCallback
from tweettwin.ingest.fetch.store import FetchStore, iter_items

MAX_EMPTY_PAGES = 5  # pages in a row with nothing new before we call the pagination endless
# However many posts a server claims or keeps sending, one pass stores at most this many.
MAX_POSTS_PER_PASS = 1_000_000
# Posts beyond the account's own count tolerated in one pass (it may post while we fetch).
COUNT_SLACK = 100


def run_passes(
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
    state = _open_pass(store, update)
    if state is None:
        return  # already complete: nothing to do without --update
    known = store.keys(platform.key)
    seen_cursors = {state["cursor"]}
    empty_pages = 0
    bound = _pass_bound(platform, account)
    counted = _counted_so_far(platform, store, state)
    while True:
        in_pass = store.count - state["start_items"]
        if limit is not None and in_pass >= limit:
            manifest["stopped"] = "limit"
            store.save()
            return
        new, cursor, hit_known = _next_page(platform, account, state, limit, in_pass, known, result)
        done = cursor is None or (state["mode"] == "update" and hit_known)
        counted += sum(1 for item in new if platform.counted(item))
        empty_pages = 0 if new else empty_pages + 1
        if not done:
            done = _runaway(
                platform, result, store.count + len(new), counted=counted, bound=bound,
                repeated=cursor in seen_cursors or empty_pages >= MAX_EMPTY_PAGES, cursor=cursor,
            )  # fmt: skip
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


def _counted_so_far(platform: Platform, store: FetchStore, state: dict) -> int:
    """Posts of this pass that count in the account's total (a resumed pass has some already)."""
    return sum(
        1
        for i, item in enumerate(iter_items(store.path, store.manifest))
        if i >= state["start_items"] and platform.counted(item)
    )


def _next_page(
    platform: Platform,
    account: Account,
    state: dict,
    limit: int | None,
    in_pass: int,
    known: set,
    result: FetchResult,
) -> tuple[list[dict], str | None, bool]:
    """The next page's new items (cut to what the limit allows), the cursor after them, and
    whether an item stored before came up."""
    size = _page_size(platform, limit, in_pass)
    page = platform.page(
        account, state["cursor"], state["since"] if platform.numeric_ids else None, size
    )
    new, hit_known = _unseen(platform, page.items, known, result)
    cursor = page.cursor
    if limit is not None and len(new) > limit - in_pass:
        new = new[: limit - in_pass]
        cursor = platform.cursor_after(new[-1]) or cursor
    return new, cursor, hit_known


def _open_pass(store: FetchStore, update: bool) -> dict | None:
    """The pass to continue: the open one from the manifest, else a new full pass (timeline
    not complete yet) or update pass (``update``). None when there is nothing to do."""
    manifest = store.manifest
    state = manifest["pass"]
    if state is not None:
        return state  # an interrupted or limited pass always continues first
    if not manifest["complete"]:
        state = _new_pass("full", None, store)
    elif update:
        state = _new_pass("update", manifest["newest_id"], store)
    else:
        return None
    manifest["pass"] = state
    manifest["stopped"] = None
    store.save()  # the new pass is on disk before its first request, so a crash resumes it
    return state


def _page_size(platform: Platform, limit: int | None, in_pass: int) -> int:
    # Ask for no more than the limit still allows, so a small --limit reads (and X bills) little.
    if limit is None:
        return platform.max_page
    return max(platform.min_page, min(platform.max_page, limit - in_pass))


def _unseen(
    platform: Platform, items: list[dict], known: set, result: FetchResult
) -> tuple[list[dict], bool]:
    """The page's items not stored yet (``known`` grows), and whether a stored one came up:
    an update pass stops there, having reached what an earlier pass stored."""
    new, hit_known = [], False
    for item in items:
        key = platform.valid_key(item)
        if key is None:  # no usable id (a broken or hostile server): cannot be stored
            result.skipped += 1
            continue
        if key in known:
            hit_known = True
            continue
        known.add(key)
        new.append(item)
    return new, hit_known


def _runaway(
    platform: Platform,
    result: FetchResult,
    total: int,
    *,
    counted: int,
    bound: int,
    repeated: bool,
    cursor: str | None,
) -> bool:
    """True (with a warning) when the server looks endless: more posts than the account can
    have, or the same page / nothing new over and over. ``total`` counts this page's posts."""
    if counted >= bound:
        result.warnings.append(
            f"{platform.title} kept sending posts past the {bound:,} this account can have;"
            f" stopped there with {total:,} posts"
        )
        return True
    if repeated:
        result.warnings.append(
            f"{platform.title} kept sending the same page (cursor {cursor!r});"
            f" stopped there with {total} posts,"
            " which may not be the whole timeline"
        )
        return True
    return False


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
