"""Fake Mastodon, Bluesky and X API servers: real HTTP on 127.0.0.1 in a thread.

They implement only the endpoints ``tweettwin fetch`` uses, with payloads shaped like the
platforms' documented responses (synthetic content), plus switches for the failures a real
server produces: rate limits with each platform's headers, 5xx, malformed JSON, an HTML error
page, a cursor that repeats forever, unknown/suspended/private accounts.

    with FakeMastodon(statuses=95) as server:
        fetch("mastodon:@alice@social.example", api_base=server.url, ...)

``server.fault(path_prefix, status, body, headers, times)`` queues failures for matching
requests; ``server.requests`` records ``(path, params, headers)`` of every request.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502</h1></body></html>"
)
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def iso(dt: datetime, ms: bool = True) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z" if ms else "%Y-%m-%dT%H:%M:%SZ")


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, dict]] = []
        self._faults: list[dict] = []
        self.page_requests = 0  # timeline pages served
        self.slow_after: int | None = (
            None  # timeline pages served fast, then each waits `slow_delay`
        )
        self.slow_delay = 0.0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, body = server._dispatch(parts.path, params, headers)
                self.send_response(status)
                extra = {"Content-Type": "application/json; charset=utf-8", **extra}
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fault(
        self,
        prefix: str,
        status: int = 503,
        body: bytes | str | dict = b"",
        headers=None,
        times: int = 1,
    ):
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self._faults.append(
                {
                    "prefix": prefix,
                    "status": status,
                    "body": body,
                    "headers": headers or {},
                    "times": times,
                }
            )

    def paths(self, prefix: str = "") -> list[str]:
        return [p for p, _, _ in self.requests if p.startswith(prefix)]

    def _dispatch(self, path: str, params: dict, headers: dict):
        with self.lock:
            self.requests.append((path, params, headers))
            for fault in self._faults:
                if path.startswith(fault["prefix"]) and fault["times"] > 0:
                    fault["times"] -= 1
                    return fault["status"], dict(fault["headers"]), fault["body"]
        return self.route(path, params, headers)

    def timeline_page(self) -> None:
        """Count a timeline page; slow down after ``slow_after`` pages (kill tests)."""
        with self.lock:
            self.page_requests += 1
            slow = self.slow_after is not None and self.page_requests > self.slow_after
        if slow:
            time.sleep(self.slow_delay)

    def route(self, path, params, headers):
        raise NotImplementedError


def _json(data, status: int = 200, headers=None):
    return status, headers or {}, json.dumps(data).encode()


# -- Mastodon -----------------------------------------------------------------------------------
def mastodon_status(i: int, account: dict, domain: str) -> dict:
    """Status ``i`` (1 = oldest) of ``account``: plain posts, links, boosts, replies, private."""
    sid = str(110_000_000_000_000_000 + i * 1000)
    created = iso(T0 + timedelta(minutes=i))
    base = {
        "id": sid,
        "created_at": created,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{domain}/users/{account['username']}/statuses/{sid}",
        "url": f"https://{domain}/@{account['username']}/{sid}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": None,
        "reblog": None,
        "account": account,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "content": f"<p>Toot number {i}: thinking about gardens &amp; tea.</p>",
    }
    kind = i % 10
    if kind == 3:  # boost of someone else's status
        other = {
            "id": "999",
            "username": "bob",
            "acct": "bob@elsewhere.example",
            "display_name": "Bob",
        }
        base["content"] = ""
        base["reblog"] = {
            **base,
            "id": str(int(sid) - 1),
            "account": other,
            "reblog": None,
            "content": f"<p>Bob's words {i}</p>",
        }
    elif kind == 5:  # reply to another account, with a mention
        base["in_reply_to_id"] = "42"
        base["in_reply_to_account_id"] = "999"
        base["content"] = (
            '<p><span class="h-card" translate="no"><a href="https://elsewhere.example/@bob" '
            'class="u-url mention">@<span>bob</span></a></span> reply number '
            f"{i}</p>"
        )
    elif kind == 7:  # link with Mastodon's invisible/ellipsis spans, two paragraphs
        base["content"] = (
            f'<p>Link post {i}: read <a href="https://example.com/some/long/path" rel="nofollow '
            'noopener noreferrer" target="_blank"><span class="invisible">https://</span>'
            '<span class="ellipsis">example.com/some/lo</span><span class="invisible">ng/path'
            "</span></a> today</p><p>second line<br>third line</p>"
        )
    elif kind == 9:  # followers-only (an anonymous API hides these; the reader must not trust it)
        base["visibility"] = "private" if i % 20 == 9 else "direct"
        base["content"] = f"<p>Private toot {i}</p>"
    return base


class FakeMastodon(FakeServer):
    def __init__(
        self,
        statuses: int = 95,
        *,
        username: str = "alice",
        domain: str = "social.example",
        locked: bool = False,
        suspended: str | None = None,
        lookup_auth: bool = False,
        link_header: bool = True,
        default_limit: int = 20,
    ) -> None:
        self.domain = domain
        self.account = {
            "id": "1001",
            "username": username,
            "acct": username,
            "display_name": "Alice A.",
            "locked": locked,
            "bot": False,
            "note": "<p>gardener</p>",
            "url": f"https://{domain}/@{username}",
            "avatar": f"https://{domain}/avatars/alice.png",
            "statuses_count": statuses,
            "followers_count": 10,
            "following_count": 5,
        }
        if suspended == "flag":
            self.account["suspended"] = True
        self.suspended = suspended
        self.lookup_auth = lookup_auth
        self.link_header = link_header
        self.default_limit = default_limit
        self.statuses: list[dict] = []  # newest first
        self.visible = not locked
        super().__init__()
        self.add_statuses(statuses)

    def add_statuses(self, n: int) -> None:
        start = len(self.statuses)
        new = [
            mastodon_status(i, self.account, self.domain) for i in range(start + 1, start + n + 1)
        ]
        self.statuses = list(reversed(new)) + self.statuses
        self.account["statuses_count"] = len(self.statuses)

    def route(self, path, params, headers):
        acc = self.account
        if path == "/api/v1/accounts/lookup":
            if self.lookup_auth:
                return _json({"error": "This API requires an authenticated user"}, 401)
            if self.suspended == "410":
                return _json({"error": "Account is suspended"}, 410)
            if params.get("acct", "").split("@")[0] != acc["username"]:
                return _json({"error": "Record not found"}, 404)
            return _json(acc)
        if path == "/.well-known/webfinger":
            if params.get("resource") != f"acct:{acc['username']}@{self.domain}":
                return 404, {}, b""
            return _json(
                {
                    "subject": f"acct:{acc['username']}@{self.domain}",
                    "aliases": [f"{self.url}/@{acc['username']}"],
                    "links": [
                        {
                            "rel": "http://webfinger.net/rel/profile-page",
                            "type": "text/html",
                            "href": f"{self.url}/@{acc['username']}",
                        },
                        {
                            "rel": "self",
                            "type": "application/activity+json",
                            "href": f"{self.url}/users/{acc['username']}",
                        },
                    ],
                },
                headers={"Content-Type": "application/jrd+json; charset=utf-8"},
            )
        if path == "/api/v2/search":
            found = [acc] if acc["username"] in params.get("q", "") else []
            return _json({"accounts": found, "statuses": [], "hashtags": []})
        if path == f"/api/v1/accounts/{acc['id']}/statuses":
            self.timeline_page()
            if self.suspended == "410":
                return _json({"error": "Account is suspended"}, 410)
            return self._statuses(path, params)
        return _json({"error": "Record not found"}, 404)

    def _statuses(self, path, params):
        limit = min(int(params.get("limit", self.default_limit)), 40)
        rows = [s for s in self.statuses if self.visible]
        if params.get("max_id"):
            rows = [s for s in rows if int(s["id"]) < int(params["max_id"])]
        if params.get("since_id"):
            rows = [s for s in rows if int(s["id"]) > int(params["since_id"])]
        if params.get("exclude_reblogs") == "true":
            rows = [s for s in rows if not s["reblog"]]
        page = rows[:limit]
        headers = {}
        if page and self.link_header:
            nxt = urlencode({"limit": limit, "max_id": page[-1]["id"]})
            prv = urlencode({"limit": limit, "min_id": page[0]["id"]})
            headers["Link"] = (
                f'<{self.url}{path}?{nxt}>; rel="next", <{self.url}{path}?{prv}>; rel="prev"'
            )
        return _json(page, headers=headers)


# -- Bluesky ------------------------------------------------------------------------------------
LINK_TEXT_PREFIX = "Café ☕ 🎉 read "  # multibyte text before the link facet
SHORT_LINK = "example.com/very-long-pa…"  # what the app shows; the facet uri is longer


def bluesky_item(i: int, did: str, handle: str) -> dict:
    """Feed item number ``i`` (1 = oldest): posts, link facets, replies, reposts."""
    when = T0 + timedelta(minutes=i)
    rkey = f"3k{i:06d}"
    author = {"did": did, "handle": handle, "displayName": "Alice B."}
    record = {
        "$type": "app.bsky.feed.post",
        "text": f"Skeet number {i} about rivers and light",
        "createdAt": iso(when),
        "langs": ["en"],
    }
    post = {
        "uri": f"at://{did}/app.bsky.feed.post/{rkey}",
        "cid": f"bafy{i}",
        "author": author,
        "record": record,
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": 1,
        "quoteCount": 0,
        "indexedAt": iso(when),
    }
    item: dict = {"post": post}
    kind = i % 10
    if kind == 2:  # link facet after multibyte text; visible link text is shortened
        prefix = f"{LINK_TEXT_PREFIX}{i}: "
        record["text"] = f"{prefix}{SHORT_LINK} now"
        start = len(prefix.encode("utf-8"))
        end = start + len(SHORT_LINK.encode("utf-8"))
        record["facets"] = [
            {
                "index": {"byteStart": start, "byteEnd": end},
                "features": [
                    {
                        "$type": "app.bsky.richtext.facet#link",
                        "uri": "https://example.com/very-long-path/page",
                    }
                ],
            }
        ]
    elif kind == 4:  # reply to someone else
        parent = {"uri": "at://did:plc:bob/app.bsky.feed.post/3kparent", "cid": "bafyparent"}
        record["reply"] = {"root": parent, "parent": parent}
        record["text"] = f"@bob.test reply number {i}"
    elif kind == 6:  # repost of bob's post
        bob = {"did": "did:plc:bob", "handle": "bob.test", "displayName": "Bob"}
        post.update(
            uri=f"at://did:plc:bob/app.bsky.feed.post/3kbob{i}",
            author=bob,
            record={**record, "text": f"Bob's skeet {i}"},
        )
        item["reason"] = {
            "$type": "app.bsky.feed.defs#reasonRepost",
            "by": author,
            "uri": f"at://{did}/app.bsky.feed.repost/3kr{i:06d}",
            "indexedAt": iso(when),
        }
    return item


class FakeBluesky(FakeServer):
    def __init__(
        self,
        posts: int = 230,
        *,
        handle: str = "alice.test",
        did: str = "did:plc:alice",
        error: str | None = None,
        repeat_cursor: bool = False,
        pin: bool = True,
        labels: list[str] | None = None,
    ) -> None:
        self.handle, self.did = handle, did
        self.error = error  # "AccountTakedown" ...
        self.repeat_cursor = repeat_cursor
        self.pin = pin
        self.labels = labels or []
        self.items: list[dict] = []  # newest first
        super().__init__()
        self.add_posts(posts)

    def add_posts(self, n: int) -> None:
        start = len(self.items)
        new = [bluesky_item(i, self.did, self.handle) for i in range(start + 1, start + n + 1)]
        self.items = list(reversed(new)) + self.items

    @staticmethod
    def _time(item: dict) -> str:
        return (item.get("reason") or {}).get("indexedAt") or item["post"]["indexedAt"]

    def route(self, path, params, headers):
        actor = params.get("actor")
        if self.error:
            msg = {
                "AccountTakedown": "Account has been suspended",
                "AccountDeactivated": "Account is deactivated",
            }
            return _json({"error": self.error, "message": msg.get(self.error, self.error)}, 400)
        if actor not in (self.handle, self.did):
            return _json({"error": "InvalidRequest", "message": "Profile not found"}, 400)
        if path == "/xrpc/app.bsky.actor.getProfile":
            return _json(
                {
                    "did": self.did,
                    "handle": self.handle,
                    "displayName": "Alice B.",
                    "description": "rivers",
                    "avatar": "https://cdn.example/avatar.jpg",
                    "postsCount": len(self.items),
                    "followersCount": 3,
                    "followsCount": 2,
                    "labels": [{"val": v, "src": self.did} for v in self.labels],
                }
            )
        if path == "/xrpc/app.bsky.feed.getAuthorFeed":
            self.timeline_page()
            limit = int(params.get("limit", 50))
            if not 1 <= limit <= 100:
                return _json({"error": "InvalidRequest", "message": "limit must be <= 100"}, 400)
            cursor = params.get("cursor")
            if self.repeat_cursor:
                cursor = None  # a broken server: the same page and cursor forever
            rows = [it for it in self.items if not cursor or self._time(it) < cursor]
            page = rows[:limit]
            if self.pin and not cursor and self.items:
                pinned = next(it for it in reversed(self.items) if "reason" not in it)
                page = [{**pinned, "reason": {"$type": "app.bsky.feed.defs#reasonPin"}}, *page]
            data: dict = {"feed": page}
            if self.repeat_cursor:
                data["cursor"] = "2024-03-01T12:00:00.000Z::stuck"
            elif len(rows) > limit:
                data["cursor"] = self._time(page[-1])
            return _json(data)
        return _json({"error": "MethodNotImplemented", "message": "not here"}, 501)


# -- X API v2 -----------------------------------------------------------------------------------
def x_tweet(i: int, user_id: str) -> dict:
    tid = str(1_600_000_000_000_000_000 + i * 1000)
    tweet = {
        "id": tid,
        "text": f"Tweet number {i} on trains &amp; maps",
        "created_at": iso(T0 + timedelta(minutes=i)),
        "lang": "en",
        "conversation_id": tid,
        "edit_history_tweet_ids": [tid],
    }
    kind = i % 10
    if kind == 1:  # retweet
        tweet["text"] = f"RT @bob: Bob's tweet {i}"
        tweet["referenced_tweets"] = [{"type": "retweeted", "id": "1500"}]
    elif kind == 3:  # reply
        tweet["text"] = f"@bob reply number {i}"
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": "1501"}]
        tweet["in_reply_to_user_id"] = "12"
    elif kind == 5:  # long post: text cut, whole in note_tweet
        long = f"Long tweet number {i}: " + "words about the sea " * 20
        tweet["text"] = long[:270] + "… https://t.co/abc" + str(i)
        tweet["note_tweet"] = {"text": long.strip()}
        tweet["entities"] = {
            "urls": [
                {
                    "start": 272,
                    "end": 295,
                    "url": f"https://t.co/abc{i}",
                    "expanded_url": f"https://x.com/i/web/status/{tid}",
                }
            ]
        }
    elif kind == 7:  # link
        tweet["text"] = f"Map number {i} https://t.co/xyz{i}"
        tweet["entities"] = {
            "urls": [
                {
                    "start": 14,
                    "end": 37,
                    "url": f"https://t.co/xyz{i}",
                    "expanded_url": "https://maps.example/x",
                    "display_url": "maps.example/x",
                }
            ]
        }
    return tweet


class FakeX(FakeServer):
    def __init__(
        self,
        tweets: int = 250,
        *,
        username: str = "alice",
        token: str = "tok-SECRET-0123456789",
        protected: bool = False,
        suspended: bool = False,
        cap: int = 3200,
    ) -> None:
        self.username, self.user_id, self.token = username, "2244994945", token
        self.protected, self.suspended, self.cap = protected, suspended, cap
        self.tweets: list[dict] = []  # newest first
        super().__init__()
        self.add_tweets(tweets)

    def add_tweets(self, n: int) -> None:
        start = len(self.tweets)
        new = [x_tweet(i, self.user_id) for i in range(start + 1, start + n + 1)]
        self.tweets = list(reversed(new)) + self.tweets

    def route(self, path, params, headers):
        if headers.get("authorization") != f"Bearer {self.token}":
            return _json(
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
                401,
            )
        if path.startswith("/2/users/by/username/"):
            name = path.rsplit("/", 1)[-1]
            if name.lower() != self.username or self.suspended:
                detail = (
                    f"User has been suspended: [{name}]."
                    if self.suspended
                    else f"Could not find user with username: [{name}]."
                )
                return _json(
                    {
                        "errors": [
                            {
                                "value": name,
                                "detail": detail,
                                "title": "Not Found Error",
                                "resource_type": "user",
                                "parameter": "username",
                                "resource_id": name,
                                "type": "https://api.twitter.com/2/problems/resource-not-found",
                            }
                        ]
                    }
                )
            return _json(
                {
                    "data": {
                        "id": self.user_id,
                        "name": "Alice X",
                        "username": self.username,
                        "protected": self.protected,
                        "profile_image_url": "https://pbs.example/a.jpg",
                        "public_metrics": {
                            "tweet_count": len(self.tweets),
                            "followers_count": 5,
                            "following_count": 1,
                            "listed_count": 0,
                        },
                    }
                }
            )
        if path == f"/2/users/{self.user_id}/tweets":
            self.timeline_page()
            size = int(params.get("max_results", 10))
            if not 5 <= size <= 100:
                return _json(
                    {
                        "title": "Invalid Request",
                        "detail": "max_results must be 5..100",
                        "status": 400,
                    },
                    400,
                )
            rows = self.tweets[: self.cap]
            if params.get("pagination_token"):
                rows = [
                    t
                    for t in rows
                    if int(t["id"]) < int(params["pagination_token"].removeprefix("pt"), 36)
                ]
            if params.get("until_id"):
                rows = [t for t in rows if int(t["id"]) < int(params["until_id"])]
            if params.get("since_id"):
                rows = [t for t in rows if int(t["id"]) > int(params["since_id"])]
            page = rows[:size]
            if not page:
                return _json({"meta": {"result_count": 0}})
            meta = {
                "result_count": len(page),
                "newest_id": page[0]["id"],
                "oldest_id": page[-1]["id"],
            }
            if len(rows) > size:
                meta["next_token"] = "pt" + _b36(int(page[-1]["id"]))
            return _json(
                {"data": page, "meta": meta},
                headers={
                    "x-rate-limit-limit": "900",
                    "x-rate-limit-remaining": "899",
                    "x-rate-limit-reset": str(int(time.time()) + 900),
                },
            )
        return _json({"title": "Not Found Error", "status": 404}, 404)


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


# -- client helpers -----------------------------------------------------------------------------
NOW = 1_700_000_000.0  # the fixed clock tests give the client


def quiet_client(**kwargs):
    """An HttpClient that records its waits instead of sleeping; ``client.sleeps`` lists them."""
    from tweettwin.ingest.fetch.http import HttpClient

    sleeps: list[float] = []
    options = {
        "sleep": sleeps.append,
        "clock": lambda: NOW,
        "rng": lambda: 0.5,
        "retries": 2,
        **kwargs,
    }
    client = HttpClient(**options)
    client.sleeps = sleeps
    return client


def closed_port_url() -> str:
    """An address where nothing listens (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
