"""What every platform fetcher provides; the paging loop in ``tweettwin.ingest.fetch`` drives
them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tweettwin.ingest.fetch.http import HttpClient


@dataclass
class Account:
    id: str  # the platform's own id (Mastodon account id, Bluesky DID, X user id)
    handle: str  # as shown to people, without a leading @
    name: str = ""
    avatar_url: str | None = None
    posts_count: int | None = None
    url: str | None = None
    locked: bool = False  # Mastodon "locked" / X "protected"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Profile fields come from the server as it pleases: a count that is not a whole
        # number (a string, -5, a list) would break the progress bar and the cost estimate.
        count = self.posts_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.posts_count = None
        for name in ("handle", "name"):
            if not isinstance(getattr(self, name), str):
                setattr(self, name, "")
        for name in ("avatar_url", "url"):
            if not isinstance(getattr(self, name), (str, type(None))):
                setattr(self, name, None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def text_or(value: Any, default: str) -> str:
    """A non-empty string from a server's answer, else ``default``."""
    return value if isinstance(value, str) and value.strip() else default


@dataclass
class Page:
    items: list[dict]  # platform objects, newest first
    cursor: str | None  # where the next page starts; None at the end


class Platform:
    """A fetcher for one platform. Subclasses set the class attributes and the methods."""

    name = ""  # "mastodon", "bluesky", "x"
    title = ""  # for messages: "Mastodon"
    source = ""  # Post.source of what it fetches: "mastodon-api", "bluesky", "x-api"
    max_page = 40  # most items one request may ask for
    min_page = 1
    numeric_ids = True  # ids grow with time, so the newest is the largest

    def __init__(self, client: HttpClient, handle: str, api_base: str) -> None:
        self.client = client
        self.handle = handle
        self.api_base = api_base.rstrip("/")

    def lookup(self) -> Account:
        raise NotImplementedError

    def page(self, account: Account, cursor: str | None, since: str | None, size: int) -> Page:
        """One page, newest first: older than ``cursor``, newer than ``since`` where supported."""
        raise NotImplementedError

    @staticmethod
    def key(item: dict) -> str:
        """A stable id for one stored item (dedupe, resume, --update)."""
        return str(item["id"])

    @staticmethod
    def counted(item: dict) -> bool:
        """Whether the item is one of the ``Account.posts_count`` posts (Bluesky's count leaves
        out reposts, which its feed holds): the count then bounds what a fetch can get."""
        return True

    def valid_key(self, item: object) -> str | None:
        """``key(item)`` when the item is an object with a usable id, else None."""
        if not isinstance(item, dict):
            return None
        try:
            key = self.key(item)
        except (KeyError, TypeError, AttributeError):
            return None
        if not isinstance(key, str) or not key or len(key) > 1000 or key == "None":
            return None
        if self.numeric_ids and not (key.isascii() and key.isdigit() and len(key) <= 30):
            return None
        return key

    def cursor_after(self, item: dict) -> str | None:
        """A cursor that starts right after ``item`` (used when a page is cut by --limit)."""
        return None

    def after_empty(self, account: Account) -> None:
        """Called when a whole first fetch found nothing: raise if the account is private."""

    def get_json(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get_json(
            self.api_base + path, service=self.title, params=params, headers=headers
        )
