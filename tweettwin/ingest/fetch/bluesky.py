"""Bluesky: a public account's feed through the public AppView, without a login.

``app.bsky.actor.getProfile`` resolves the handle to a DID, then ``app.bsky.feed.getAuthorFeed``
(``filter=posts_with_replies``, 100 a page) is followed with its opaque ``cursor`` until the
cursor is gone. Feed items (``{post, reply?, reason?}``) are stored as they come; reposts
(``reason.$type == app.bsky.feed.defs#reasonRepost``) are kept so prepare can count them. Pinned
items (``#reasonPin``) are dropped: the post also appears at its own place in the feed.

The AppView has no "newer than" parameter, so ``--update`` stops at the first item already
stored. Accounts labelled ``!no-unauthenticated`` asked not to be shown to logged-out viewers;
we respect that and do not fetch them.
"""

from __future__ import annotations

from tweettwin.errors import FetchError
from tweettwin.ingest.fetch.base import Account, Page, Platform, text_or
from tweettwin.ingest.fetch.http import parse_json

REPOST = "app.bsky.feed.defs#reasonRepost"
PIN = "app.bsky.feed.defs#reasonPin"
DEFAULT_API = "https://public.api.bsky.app"


class Bluesky(Platform):
    name = "bluesky"
    title = "Bluesky"
    source = "bluesky"
    max_page = 100
    numeric_ids = False

    def lookup(self) -> Account:
        data, response = self._xrpc("app.bsky.actor.getProfile", {"actor": self.handle})
        if not isinstance(data, dict) or not data.get("did"):
            raise FetchError(f"{self.title} profile of @{self.handle} has no DID; check --api-base")
        labels = {label.get("val") for label in data.get("labels") or [] if isinstance(label, dict)}
        if "!takedown" in labels:
            raise self._error_for("AccountTakedown", "")
        if "!no-unauthenticated" in labels:
            raise FetchError(
                f"{self.title} account @{self.handle} asks not to be shown to logged-out users;"
                " tweettwin respects that and does not fetch it"
            )
        return Account(
            id=data["did"],
            handle=text_or(data.get("handle"), self.handle),
            name=data.get("displayName") or "",
            avatar_url=data.get("avatar"),
            posts_count=data.get("postsCount"),
            url=f"https://bsky.app/profile/{data.get('handle') or self.handle}",
        )

    def page(self, account: Account, cursor: str | None, since: str | None, size: int) -> Page:
        data, _ = self._xrpc(
            "app.bsky.feed.getAuthorFeed",
            {"actor": account.id, "limit": size, "cursor": cursor, "filter": "posts_with_replies"},
        )
        feed = data.get("feed") if isinstance(data, dict) else None
        if not isinstance(feed, list):
            raise FetchError(
                f"{self.title} author feed of @{self.handle} has no 'feed' list; check --api-base"
            )
        items = [
            item
            for item in feed
            if isinstance(item, dict)
            and _reason(item) != PIN
            and isinstance(item.get("post"), dict)
        ]
        next_cursor = data.get("cursor") if feed else None
        return Page(items, str(next_cursor) if next_cursor else None)

    @staticmethod
    def counted(item: dict) -> bool:
        return _reason(item) != REPOST

    @staticmethod
    def key(item: dict) -> str:
        post_uri = item["post"]["uri"]
        if _reason(item) == REPOST:
            reason = item["reason"]
            return reason.get("uri") or f"repost:{post_uri}:{reason.get('indexedAt', '')}"
        return post_uri

    def _xrpc(self, method: str, params: dict) -> tuple[object, object]:
        response = self.client.get(
            f"{self.api_base}/xrpc/{method}", service=self.title, params=params
        )
        if response.status_code == 200:
            return parse_json(response, self.title), response
        data = parse_json(response, self.title)
        error = data.get("error", "") if isinstance(data, dict) else ""
        message = data.get("message", "") if isinstance(data, dict) else ""
        raise self._error_for(error, message, response.status_code)

    def _error_for(self, error: str, message: str, status: int = 400) -> FetchError:
        who = f"{self.title} account @{self.handle}"
        if error == "AccountTakedown":
            return FetchError(f"{who} has been taken down (suspended); nothing to fetch")
        if error == "AccountDeactivated":
            return FetchError(f"{who} is deactivated; nothing to fetch")
        if error in ("BlockedActor", "BlockedByActor"):
            return FetchError(f"{who} cannot be read: {message or error}")
        if status == 400 and (
            "not found" in message.lower() or error in ("ProfileNotFound", "NotFound")
        ):
            return FetchError(f"{who} not found; check the handle")
        if status in (400, 404) and "actor" in message.lower():
            return FetchError(f"{who} not found ({message}); check the handle")
        detail = ": ".join(part for part in (error, message) if part) or "no details"
        return FetchError(
            f"{self.title} request for @{self.handle} failed (HTTP {status}): {detail}"
        )


def _reason(item: dict) -> str | None:
    reason = item.get("reason")
    return reason.get("$type") if isinstance(reason, dict) else None
