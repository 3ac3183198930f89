"""X: a user's posts through the X API v2 with an app-only bearer token (``X_BEARER_TOKEN``).

``GET /2/users/by/username/:username`` gives the user id (and ``protected``, ``public_metrics``),
then ``GET /2/users/:id/tweets`` (100 a page, ``pagination_token`` = ``meta.next_token``) returns at
most the 3,200 most recent posts. ``tweet.fields`` asks for ``note_tweet`` so long posts are
whole, and ``referenced_tweets`` so the reader can tell retweets and replies.

X bills each post read (about $0.005 app-only in 2026), so ``tweettwin.ingest.fetch`` prints an
estimate
first and asks for ``--yes`` before a large fetch. The token is kept in a ``Secret`` and only
ever placed in the Authorization header.
"""

from __future__ import annotations

import os

from tweettwin.errors import ConfigError, FetchError
from tweettwin.ingest.fetch.base import Account, Page, Platform, text_or
from tweettwin.ingest.fetch.http import Secret, parse_json

TOKEN_ENV = "X_BEARER_TOKEN"
DEFAULT_API = "https://api.x.com"
TIMELINE_CAP = 3200  # the API returns only this many most recent posts
PRICE_PER_POST = 0.005  # USD per post read, app-only bearer (docs.x.com pricing, 2026)
CONFIRM_READS = 100  # a fetch estimated above this many reads needs --yes (unless --limit caps it)
TWEET_FIELDS = (
    "created_at,lang,entities,referenced_tweets,in_reply_to_user_id,note_tweet,conversation_id"
)
USER_FIELDS = "protected,public_metrics,name,profile_image_url"
_UNTIL = "until_id:"  # our own cursor form, for a page cut short by --limit


def bearer_token() -> Secret:
    value = os.environ.get(TOKEN_ENV, "").strip()
    if not value:
        raise ConfigError(
            f"fetching from X needs an API bearer token: set {TOKEN_ENV} (from your app's"
            " 'Keys and tokens' page on developer.x.com); Mastodon and Bluesky need no token"
        )
    return Secret(value)


def estimate_reads(account: Account, stored: int, limit: int | None) -> int:
    """Posts this fetch will probably read (and be billed for)."""
    available = min(
        account.posts_count if account.posts_count is not None else TIMELINE_CAP, TIMELINE_CAP
    )
    reads = max(0, available - stored)
    return reads if limit is None else min(reads, limit)


class XApi(Platform):
    name = "x"
    title = "X"
    source = "x-api"
    max_page = 100
    min_page = 5  # the API rejects max_results below 5

    def __init__(self, client, handle: str, api_base: str, token: Secret) -> None:
        super().__init__(client, handle, api_base)
        self._token = token
        client.add_secret(token)

    def __repr__(self) -> str:
        return f"XApi(handle={self.handle!r}, token={self._token!r})"

    def _call(self, path: str, params: dict) -> object:
        response = self.client.get(
            self.api_base + path,
            service=self.title,
            params=params,
            headers={"Authorization": f"Bearer {self._token.reveal()}"},
        )
        data = parse_json(response, self.title, redact=self.client.redact)
        if response.status_code == 401:
            raise ConfigError(f"X rejected the bearer token (HTTP 401); check {TOKEN_ENV}")
        if response.status_code != 200:
            raise FetchError(
                self.client.redact(
                    f"X request for @{self.handle} failed: {_error(data, response.status_code)}"
                )
            )
        return data

    def lookup(self) -> Account:
        data = self._call(f"/2/users/by/username/{self.handle}", {"user.fields": USER_FIELDS})
        user = data.get("data") if isinstance(data, dict) else None
        if not isinstance(user, dict) or not user.get("id"):
            detail = _error(data, 200)
            if "suspended" in detail.lower():
                raise FetchError(f"X account @{self.handle} is suspended; nothing to fetch")
            raise FetchError(f"X account @{self.handle} not found; check the handle")
        if user.get("protected"):
            raise FetchError(
                f"X account @{self.handle} is protected: its posts are for approved followers only,"
                " and tweettwin fetches public posts only"
            )
        metrics = user.get("public_metrics") or {}
        return Account(
            id=str(user["id"]),
            handle=text_or(user.get("username"), self.handle),
            name=user.get("name") or "",
            avatar_url=user.get("profile_image_url"),
            posts_count=metrics.get("tweet_count"),
            url=f"https://x.com/{user.get('username') or self.handle}",
        )

    def page(self, account: Account, cursor: str | None, since: str | None, size: int) -> Page:
        params = {
            "max_results": max(self.min_page, min(self.max_page, size)),
            "tweet.fields": TWEET_FIELDS,
            "since_id": since,
        }
        if cursor and cursor.startswith(_UNTIL):
            params["until_id"] = cursor[len(_UNTIL) :]
        else:
            params["pagination_token"] = cursor
        data = self._call(f"/2/users/{account.id}/tweets", params)
        if not isinstance(data, dict):
            raise FetchError(
                f"X sent something other than a JSON object for @{self.handle}'s posts"
            )
        items = data.get("data") or []
        if not isinstance(items, list):
            raise FetchError(f"X sent a 'data' that is not a list for @{self.handle}'s posts")
        next_token = (data.get("meta") or {}).get("next_token")
        return Page(items, str(next_token) if next_token and items else None)

    def cursor_after(self, item: dict) -> str | None:
        return _UNTIL + str(item["id"])


def _error(data: object, status: int) -> str:
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = first.get("detail") or first.get("message") or first.get("title") or ""
            return f"{text} (HTTP {status})"
        text = data.get("detail") or data.get("title")
        if text:
            return f"{text} (HTTP {status})"
    return f"HTTP {status}"
