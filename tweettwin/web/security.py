"""Who may talk to the server: an API key on every route but ``/health`` (constant-time check),
a Host-header allow-list when bound to localhost (DNS rebinding) with the same check on a
browser's ``Origin`` (another site's page cannot drive it), and a cap on request bodies.

It is plain ASGI middleware, so streamed responses pass through untouched. A browser gets the
key once as ``/?key=KEY``: the server answers with an HttpOnly cookie and a redirect without it.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from tweettwin.web.errors import ApiError

COOKIE = "tweettwin_key"
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
OPEN_PATHS = {"/health"}


def is_local(host: str) -> bool:
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    api_key: str | None = None
    check_host: bool = True  # True when bound to a loopback address
    max_body: int = 200 * 2**20

    def key_ok(self, given: str | None) -> bool:
        if self.api_key is None:
            return True
        # compare_digest on bytes of equal type: constant time in the key's length
        return given is not None and hmac.compare_digest(given.encode(), self.api_key.encode())


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def given_key(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if "x-api-key" in headers:
        return headers["x-api-key"].strip()
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:
        return None
    return cookie[COOKIE].value if COOKIE in cookie else None


class GuardMiddleware:
    def __init__(self, app, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        error = self._check(scope, headers)
        if error is not None:
            return await _send_response(send, error.status, error.body(), error.headers)
        login = self._login_redirect(scope)
        if login is not None:
            return await _send_raw(send, 303, b"", login)
        return await self.app(scope, receive, send)

    def _check(self, scope, headers) -> ApiError | None:
        g = self.guard
        if g.check_host and not is_local(_host_name(headers.get("host", ""))):
            return ApiError(
                403,
                "this server only answers requests addressed to localhost (Host header "
                f"{headers.get('host', '')!r}); bind another --host with an --api-key to serve "
                "other names",
                code="host_not_allowed",
            )
        origin = headers.get("origin")
        if g.check_host and origin and not is_local(_host_name(urlsplit(origin).netloc)):
            return ApiError(  # another web site's page calling this local server
                403,
                f"requests from {origin} are refused: open the page from this server",
                code="origin_not_allowed",
            )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > g.max_body:
            return ApiError(
                413,
                f"request body of {int(length)} bytes is over the {g.max_body} byte limit",
                code="payload_too_large",
            )
        if g.api_key is None or scope["path"] in OPEN_PATHS:
            return None
        key = given_key(headers) or dict(parse_qsl(scope.get("query_string", b"").decode())).get(
            "key"
        )
        if not g.key_ok(key):
            return ApiError(
                401,
                "missing or wrong API key: send 'Authorization: Bearer KEY' (in a browser, open "
                "/?key=KEY once)",
                code="invalid_api_key",
            )
        return None

    def _login_redirect(self, scope) -> list | None:
        """``GET /page?key=KEY`` (already checked): set the cookie, drop the key from the URL."""
        if self.guard.api_key is None or scope["method"] != "GET":
            return None
        query = parse_qsl(scope.get("query_string", b"").decode())
        if not any(k == "key" for k, _ in query):
            return None
        rest = urlencode([(k, v) for k, v in query if k != "key"])
        location = scope["path"] + (f"?{rest}" if rest else "")
        cookie = f"{COOKIE}={self.guard.api_key}; HttpOnly; SameSite=Strict; Path=/"
        return [(b"location", location.encode()), (b"set-cookie", cookie.encode())]


async def _send_raw(send, status: int, body: bytes, headers: list, ctype=b"text/plain") -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_response(send, status: int, body: dict, extra: dict[str, str]) -> None:
    import json

    raw = json.dumps(body).encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await _send_raw(send, status, raw, headers, b"application/json")
