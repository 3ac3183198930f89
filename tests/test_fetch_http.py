"""The shared HTTP client against a real local server: retries, rate limits, bad bodies."""

from __future__ import annotations

import pytest

from tests.fake_servers import HTML_ERROR, NOW, FakeMastodon, closed_port_url, quiet_client
from tweettwin import __version__
from tweettwin.errors import FetchError, NetworkError
from tweettwin.ingest.fetch import fetch
from tweettwin.ingest.fetch.http import Secret, rate_limit_delay

SPEC = "mastodon:@alice@social.example"
STATUSES = "/api/v1/accounts/1001/statuses"


def _fetch(server, client, **kwargs):
    return fetch(SPEC, output="out", api_base=server.url, client=client, **kwargs)


def test_user_agent_names_tweettwin_and_version():
    with FakeMastodon(3) as server:
        _fetch(server, quiet_client())
    agent = server.requests[0][2]["user-agent"]
    assert agent.startswith(f"tweettwin/{__version__} ")


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "7"}, 7.0),
        (
            {"X-RateLimit-Reset": "2023-11-14T22:13:50.000Z"},
            31.0,
        ),  # Mastodon: ISO date (NOW + 30 s)
        ({"x-rate-limit-reset": str(int(NOW) + 30)}, 31.0),  # X: unix seconds, no Retry-After
        ({"ratelimit-reset": str(int(NOW) + 30)}, 31.0),  # Bluesky
    ],
)
def test_rate_limit_waits_as_the_server_says_then_succeeds(headers, expected):
    with FakeMastodon(60) as server:
        server.fault(STATUSES, 429, {"error": "Too many requests"}, headers=headers)
        client = quiet_client()
        result = _fetch(server, client)
    assert client.sleeps == [expected]  # one visible wait of exactly that length, nothing else
    assert result.total == 60 and result.complete


def test_wait_is_announced_before_sleeping():
    announced = []
    with FakeMastodon(5) as server:
        server.fault(STATUSES, 429, headers={"Retry-After": "3"})
        _fetch(server, quiet_client(on_wait=lambda s, why: announced.append((s, why))))
    assert announced == [(3.0, "Mastodon rate limit reached")]


def test_exhausted_rate_limit_header_makes_the_next_request_wait():
    with FakeMastodon(5) as server:
        server.fault(
            "/api/v1/accounts/lookup",
            200,
            dict(server.account),
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2023-11-14T22:13:30.000Z"},
        )
        client = quiet_client()
        _fetch(server, client)
    assert client.sleeps == [11.0]


def test_5xx_is_retried_with_exponential_backoff():
    with FakeMastodon(50) as server:
        server.fault(STATUSES, 503, b"busy", times=2)
        client = quiet_client()
        result = _fetch(server, client)
    assert client.sleeps == [1.0, 2.0]  # backoff 1 s doubling; jitter fixed at x1 by the test rng
    assert result.total == 50


def test_backoff_jitter_spreads_retries():
    client = quiet_client(rng=lambda: 0.0)
    assert client._backoff(3) == 4.0  # 8 s base, jitter x0.5
    client = quiet_client(rng=lambda: 0.99, max_backoff=5)
    assert client._backoff(10) == pytest.approx(7.45)  # capped base 5 s, jitter x1.49


def test_5xx_forever_is_one_clear_error():
    with FakeMastodon(5) as server:
        server.fault(STATUSES, 502, b"nope", times=10)
        with pytest.raises(NetworkError, match=r"^Mastodon failed with HTTP 502 .* after 3 tries"):
            _fetch(server, quiet_client())


def test_instance_down_is_one_clear_error_after_retries():
    client = quiet_client()
    with pytest.raises(NetworkError) as info:
        fetch(SPEC, output="out", api_base=closed_port_url(), client=client)
    assert "cannot reach Mastodon" in str(info.value) and "after 3 tries" in str(info.value)
    assert "\n" not in str(info.value)
    assert len(client.sleeps) == 2


def test_html_error_page_instead_of_json():
    with FakeMastodon(5) as server:
        server.fault(STATUSES, 200, HTML_ERROR, headers={"Content-Type": "text/html"})
        with pytest.raises(FetchError, match="HTML page instead of JSON"):
            _fetch(server, quiet_client())


def test_malformed_json_is_a_clear_error_and_rerun_resumes():
    with FakeMastodon(100) as server:
        # first page fine, second page cut off mid-body
        calls = {"n": 0}
        original = server.route

        def route(path, params, headers):
            if path == STATUSES:
                calls["n"] += 1
                if calls["n"] == 2:
                    return 200, {}, b'[{"id": "1", "content": "<p>cut'
            return original(path, params, headers)

        server.route = route
        with pytest.raises(FetchError) as info:
            _fetch(server, quiet_client())
        message = str(info.value)
        assert "malformed JSON" in message and "40 posts fetched so far are kept in out" in message
        result = _fetch(server, quiet_client())
    assert result.total == 100 and result.fetched == 60 and result.complete


def test_rate_limit_far_in_the_future_stops_with_a_rerun_hint():
    with FakeMastodon(5) as server:
        server.fault(STATUSES, 429, headers={"Retry-After": "99999"})
        with pytest.raises(NetworkError, match="rerun later to resume"):
            _fetch(server, quiet_client())


def test_rate_limit_delay_parsing():
    assert rate_limit_delay({"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}, NOW) == 20.0
    assert rate_limit_delay({"ratelimit-reset": "12"}, NOW) == 13.0  # IETF draft: seconds from now
    assert rate_limit_delay({"x-rate-limit-reset": str(int(NOW) - 5)}, NOW) == 1.0  # already past
    assert rate_limit_delay({}, NOW) is None


def test_secret_never_shows_itself():
    secret = Secret("abc123-very-secret")
    assert (
        "abc123" not in repr(secret)
        and "abc123" not in f"{secret}"
        and secret.reveal() == "abc123-very-secret"
    )
    client = quiet_client()
    client.add_secret(secret)
    assert client.redact("Bearer abc123-very-secret failed") == "Bearer *** failed"
