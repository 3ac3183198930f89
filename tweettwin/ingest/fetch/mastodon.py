"""Mastodon: a public account's statuses through the instance's REST API, without a login.

Account lookup is ``GET /api/v1/accounts/lookup?acct=``. Where that fails (404 because the handle's
domain delegates to another server, or 401/403 because the instance wants a token for lookups),
we ask ``/.well-known/webfinger`` which server really holds the account, look it up there, and
as a last resort search ``/api/v2/search?resolve=false`` for the exact ``acct``.

Statuses come newest first, 40 a page, paginated with ``max_id`` from the ``Link`` header (or
the last id). Boosts are fetched too and stored as they are, so ``prepare`` can count them as
reposts; replies are kept (prepare counts and drops them). An anonymous client only sees public
and unlisted statuses; any private/direct one is still stored and marked private by the reader.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tweettwin.errors import FetchError
from tweettwin.ingest.fetch.base import Account, Page, Platform, text_or
from tweettwin.ingest.fetch.http import parse_json


class Mastodon(Platform):
    name = "mastodon"
    title = "Mastodon"
    source = "mastodon-api"
    max_page = 40

    def __init__(self, client, handle: str, api_base: str) -> None:
        super().__init__(client, handle, api_base)
        self.user, _, self.domain = handle.partition("@")

    @property
    def who(self) -> str:
        return f"@{self.user}@{self.domain}"

    # -- account -------------------------------------------------------------------------
    def lookup(self) -> Account:
        acct = (
            self.user
            if urlsplit(self.api_base).netloc == self.domain
            else f"{self.user}@{self.domain}"
        )
        status, data = self._lookup(self.api_base, acct)
        if status == 200:
            return self._account(data)
        if status not in (401, 403, 404):
            raise FetchError(f"{self.title} lookup of {self.who} failed: {_error(data, status)}")
        finger = self._webfinger()
        if finger is None:
            if status == 404:
                raise self._unknown()
            raise FetchError(
                f"{self.api_base} requires a login to look up accounts (HTTP {status}) and has no"
                f" WebFinger record for {self.who}; tweettwin reads public posts without a login"
            )
        base, acct = finger
        if (base, acct) != (self.api_base, self.user):
            status, data = self._lookup(base, acct)
            if status == 200:
                self.api_base = base
                return self._account(data)
        if status in (401, 403):
            found = self._search(base, acct)
            if found is not None:
                self.api_base = base
                return self._account(found)
            raise FetchError(
                f"{base} requires a login to look up {self.who} (HTTP {status});"
                " tweettwin reads public posts without a login"
            )
        if status == 404:
            raise self._unknown()
        raise FetchError(f"{self.title} lookup of {self.who} failed: {_error(data, status)}")

    def _lookup(self, base: str, acct: str) -> tuple[int, object]:
        response = self.client.get(
            base + "/api/v1/accounts/lookup", service=self.title, params={"acct": acct}
        )
        if response.status_code == 410:
            raise self._suspended()
        data = parse_json(response, self.title) if response.status_code in (200, 400, 404) else None
        return response.status_code, data

    def _webfinger(self) -> tuple[str, str] | None:
        """(API base, acct there) from WebFinger; None when it does not know the account."""
        response = self.client.get(
            self.api_base + "/.well-known/webfinger",
            service=self.title,
            params={"resource": f"acct:{self.user}@{self.domain}"},
        )
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise FetchError(
                f"{self.title} WebFinger for {self.who} failed (HTTP {response.status_code})"
            )
        jrd = parse_json(response, self.title)
        links = jrd.get("links", []) if isinstance(jrd, dict) else []
        href = next(
            (link.get("href") for link in links if link.get("rel") == "self" and link.get("href")),
            None,
        )
        subject = str(jrd.get("subject", "")).removeprefix("acct:") if isinstance(jrd, dict) else ""
        if not href:
            return None
        parts = urlsplit(href)
        user = subject.partition("@")[0] or parts.path.rstrip("/").rsplit("/", 1)[-1]
        try:  # host and port only: a user:password in the server's answer is never kept
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not host:
            return None
        return f"{parts.scheme}://{netloc}", user

    def _search(self, base: str, user: str) -> dict | None:
        response = self.client.get(
            base + "/api/v2/search",
            service=self.title,
            params={
                "q": f"@{user}@{self.domain}",
                "type": "accounts",
                "resolve": "false",
                "limit": 5,
            },
        )
        if response.status_code != 200:
            return None
        data = parse_json(response, self.title)
        wanted = {user.lower(), f"{user}@{self.domain}".lower()}
        for account in data.get("accounts", []) if isinstance(data, dict) else []:
            if str(account.get("acct", "")).lower() in wanted:
                return account
        return None

    def _account(self, data: object) -> Account:
        if not isinstance(data, dict) or "id" not in data:
            raise FetchError(
                f"{self.title} lookup of {self.who} returned no account id; check --api-base"
            )
        if data.get("suspended"):
            raise self._suspended()
        return Account(
            id=str(data["id"]),
            handle=f"{text_or(data.get('username'), self.user)}@{self.domain}",
            name=data.get("display_name") or "",
            avatar_url=data.get("avatar"),
            posts_count=data.get("statuses_count"),
            url=data.get("url"),
            locked=bool(data.get("locked")),
            extra={"api_base": self.api_base},
        )

    def _unknown(self) -> FetchError:
        return FetchError(
            f"{self.title} account {self.who} not found on {self.api_base}; check the handle"
        )

    def _suspended(self) -> FetchError:
        return FetchError(
            f"{self.title} account {self.who} is suspended on {self.api_base}; nothing to fetch"
        )

    # -- statuses ------------------------------------------------------------------------
    def page(self, account: Account, cursor: str | None, since: str | None, size: int) -> Page:
        response = self.client.get(
            f"{self.api_base}/api/v1/accounts/{account.id}/statuses",
            service=self.title,
            params={"limit": size, "max_id": cursor, "since_id": since, "exclude_reblogs": "false"},
        )
        if response.status_code == 410:
            raise self._suspended()
        data = parse_json(response, self.title)
        if response.status_code != 200:
            raise FetchError(
                f"{self.title} statuses of {self.who} failed: {_error(data, response.status_code)}"
            )
        if not isinstance(data, list):
            raise FetchError(
                f"{self.title} sent something other than a list of statuses for {self.who}"
            )
        if not data:
            return Page([], None)
        next_url = response.links.get("next", {}).get("url")
        if next_url:
            cursor = parse_qs(urlsplit(next_url).query).get("max_id", [None])[0]
        else:
            # No Link header: one more request from the last id confirms the end.
            last = data[-1].get("id") if isinstance(data[-1], dict) else None
            cursor = str(last) if isinstance(last, (str, int)) and str(last).isdigit() else None
        return Page(data, cursor)

    def cursor_after(self, item: dict) -> str | None:
        return str(item["id"])

    def after_empty(self, account: Account) -> None:
        if account.locked and (account.posts_count or 0) > 0:
            raise FetchError(
                f"{self.title} account {self.who} is locked: its {account.posts_count} posts"
                " are for approved followers only, and tweettwin fetches public posts only"
            )


def _error(data: object, status: int) -> str:
    if isinstance(data, dict) and data.get("error"):
        return f"{data['error']} (HTTP {status})"
    return f"HTTP {status}"
