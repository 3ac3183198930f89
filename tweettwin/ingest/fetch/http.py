"""One HTTP client for every fetcher: timeouts, a named user agent, retries with backoff and
jitter, rate limits honoured with a visible wait, and JSON errors turned into one clear line.

The waiting is injectable (``sleep``, ``clock``, ``on_wait``) so tests check how long the client
*would* wait without waiting. Secrets (the X bearer token) travel as ``Secret`` and are scrubbed
from every message this module builds.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from tweettwin import __version__
from tweettwin.errors import FetchError, NetworkError
from tweettwin.redaction import REDACTED, redact

USER_AGENT = f"tweettwin/{__version__} (+https://github.com/tweettwin/tweettwin)"
RESET_MARGIN = 1.0  # seconds added to a reset time: clocks differ a little between us and them
MAX_RATE_LIMIT_WAITS = 5  # 429s in a row before giving up on one request
# One page of posts is tens of KB: a bigger body is not a page, and is not held in memory.
MAX_BODY_BYTES = 32 * 1024**2
# Per request, whatever the server does: httpx's timeouts apply to each read, so a body that
# trickles a byte at a time would otherwise never end.
REQUEST_DEADLINE_S = 60.0

# Reset headers, in the order tried: X (unix seconds), Bluesky/IETF draft, Mastodon (ISO date).
_RESET_HEADERS = ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset")
_REMAINING_HEADERS = ("x-rate-limit-remaining", "ratelimit-remaining", "x-ratelimit-remaining")


class Secret:
    """A token that never shows itself in a repr, an f-string or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


WaitCallback = Callable[[float, str], None]


class HttpClient:
    """A small wrapper over ``httpx.Client`` shared by the Mastodon, Bluesky and X fetchers."""

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_wait: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_wait: WaitCallback | None = None,
        rng: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        deadline: float = REQUEST_DEADLINE_S,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.deadline = deadline
        self.max_body = max_body
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.on_wait = on_wait
        self.rng = rng
        self._secrets: list[str] = []
        self._resume_at: float | None = None  # set when the server said "0 requests left"
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=True,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"HttpClient(retries={self.retries})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- secrets ---------------------------------------------------------------------------
    def add_secret(self, secret: Secret | str) -> None:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value and value not in self._secrets:
            self._secrets.append(value)

    def redact(self, text: str) -> str:
        """``text`` without this client's secrets, or any other (:func:`redaction.redact`)."""
        return redact(text, self._secrets)

    # -- waiting ---------------------------------------------------------------------------
    def wait(self, seconds: float, reason: str) -> None:
        """Wait visibly: tell ``on_wait`` (the CLI shows a countdown), then ``sleep``."""
        seconds = float(seconds)
        seconds = 0.0 if math.isnan(seconds) else max(0.0, seconds)
        if seconds > self.max_wait:
            raise NetworkError(
                f"{reason}: the server asks to wait {_duration(seconds)}"
                f"{_until(self.clock(), seconds)}; rerun later to resume"
            )
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        self.sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * 2**attempt)
        return base * (0.5 + self.rng())  # jitter: many clients never retry in lockstep

    # -- requests --------------------------------------------------------------------------
    def get(
        self,
        url: str,
        *,
        service: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET with retries. Returns any answer below 500 except 429 (callers judge 4xx)."""
        self._wait_if_limited(service)
        params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        limited = 0
        while True:
            response = self._try_send(url, params, headers, service, attempt)
            if response is None:  # unreachable, waited: try again
                attempt += 1
                continue
            if response.status_code == 429:
                limited += 1
                self._wait_rate_limit(response, url, service, limited)
                continue
            if response.status_code >= 500:
                self._wait_server_error(response, url, service, attempt)
                attempt += 1
                continue
            if _header(response.headers, _REMAINING_HEADERS) == "0":
                delay = rate_limit_delay(response.headers, self.clock(), retry_after=False)
                if delay:
                    self._resume_at = self.clock() + delay
            return response

    def _wait_if_limited(self, service: str) -> None:
        """The last answer said "0 requests left": wait for the reset before the next one."""
        if self._resume_at is not None:
            pending = self._resume_at - self.clock()
            self._resume_at = None
            if pending > 0:
                self.wait(pending, f"{service} rate limit reached")

    def _try_send(
        self, url: str, params: Mapping[str, Any], headers, service: str, attempt: int
    ) -> httpx.Response | None:
        """One try: the response, or None after waiting out a transport error worth retrying."""
        try:
            return self._send(url, params, headers)
        except httpx.TransportError as ex:
            if attempt >= self.retries:
                raise NetworkError(
                    self.redact(
                        f"cannot reach {service} at {_short(url)} after {attempt + 1} tries"
                        f" ({_describe(ex)}); check the address (--api-base) or try again later"
                    )
                ) from None
            self.wait(self._backoff(attempt), f"{service} unreachable ({_describe(ex)}); retrying")
            return None
        except httpx.HTTPError as ex:  # redirect loop, bad gzip, odd URL: retrying won't help
            raise NetworkError(
                self.redact(
                    f"{service} at {_short(url)} sent an unusable answer ({_describe(ex)});"
                    " check the address (--api-base) or try again later"
                )
            ) from None

    def _wait_rate_limit(
        self, response: httpx.Response, url: str, service: str, limited: int
    ) -> None:
        """A 429: wait as the server says (or back off), up to MAX_RATE_LIMIT_WAITS in a row."""
        if limited > MAX_RATE_LIMIT_WAITS:
            raise NetworkError(
                f"{service} kept answering 429 Too Many Requests at {_short(url)};"
                " rerun later to resume"
            )
        delay = rate_limit_delay(response.headers, self.clock())
        if delay is None:
            delay = max(5.0, self._backoff(limited))
        self.wait(delay, f"{service} rate limit reached")

    def _wait_server_error(
        self, response: httpx.Response, url: str, service: str, attempt: int
    ) -> None:
        """A 5xx: back off and retry, until ``retries`` tries have failed."""
        if attempt >= self.retries:
            raise NetworkError(
                f"{service} failed with HTTP {response.status_code} at {_short(url)}"
                f" after {attempt + 1} tries; try again later (rerun resumes)"
            )
        self.wait(
            self._backoff(attempt),
            f"{service} answered HTTP {response.status_code}; retrying",
        )

    def _send(self, url: str, params: Mapping[str, Any], headers) -> httpx.Response:
        """One GET whose body is read in chunks under an overall deadline and a size cap."""
        request = self._http.build_request("GET", url, params=params, headers=headers)
        start = time.monotonic()
        response = self._http.send(request, stream=True)
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_body:
                    raise FetchError(
                        f"{_short(url)} sent more than {self.max_body:,} bytes for one page;"
                        " that is not a page of posts: check --api-base"
                    )
                # Not retried: the same server would only trickle again.
                if time.monotonic() - start > self.deadline:
                    raise NetworkError(
                        self.redact(
                            f"{_short(url)} sent no complete answer within {self.deadline:.0f} s"
                            " (the body trickles in); try again later (rerun resumes)"
                        )
                    )
        finally:
            response.close()
        # The body is already decoded: drop the headers that would make httpx decode it again.
        kept = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=kept, content=bytes(body), request=request
        )

    def get_json(
        self,
        url: str,
        *,
        service: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, httpx.Response]:
        response = self.get(url, service=service, params=params, headers=headers)
        return parse_json(response, service, redact=self.redact), response


def parse_json(response: httpx.Response, service: str, redact: Callable[[str], str] = str) -> Any:
    """The body as JSON, or a FetchError that says what came back instead."""
    where = f"(HTTP {response.status_code} from {_short(str(response.request.url))})"
    body = response.content
    ctype = response.headers.get("content-type", "")
    if "html" in ctype or body.lstrip()[:1] == b"<":
        raise FetchError(
            f"{service} answered with an HTML page instead of JSON {where};"
            " check --api-base points at the API, or try again later"
        )
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as ex:
        raise FetchError(
            redact(f"{service} sent malformed JSON {where}: {ex}; try again later")
        ) from None
    except RecursionError:
        raise FetchError(
            f"{service} sent JSON nested too deeply to be posts {where}; check --api-base"
        ) from None


def rate_limit_delay(
    headers: Mapping[str, str], now: float, *, retry_after: bool = True
) -> float | None:
    """Seconds to wait, from Retry-After or a platform's reset header; None when absent."""
    if retry_after and headers.get("retry-after"):
        value = headers["retry-after"].strip()
        if value.replace(".", "", 1).isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            pass
    value = _header(headers, _RESET_HEADERS)
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:  # Mastodon: ISO 8601, e.g. 2024-01-01T00:05:00.000000Z
            reset = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
        return max(0.0, reset - now) + RESET_MARGIN
    # A big number is a unix time (X, Bluesky); a small one is seconds from now (IETF draft).
    if number > 1e9:
        return max(0.0, number - now) + RESET_MARGIN
    return max(0.0, number) + RESET_MARGIN


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds > 3 * 365 * 86400:
        return "for years"
    if seconds >= 86400:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds:.0f} s"


def _until(now: float, seconds: float) -> str:
    try:
        until = datetime.fromtimestamp(now + seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):  # past year 9999: no date to show
        return ""
    return f" (until {until:%Y-%m-%d %H:%M} UTC)"


def _header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if headers.get(name):
            return headers[name]
    return None


def _short(url: str) -> str:
    return url.split("?", 1)[0]


def _describe(ex: Exception) -> str:
    if isinstance(ex, httpx.ConnectError):
        return "connection failed"
    if isinstance(ex, httpx.TimeoutException):
        return "timed out"
    if isinstance(ex, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(ex, httpx.DecodingError):
        return "a body that cannot be decoded"
    return type(ex).__name__
