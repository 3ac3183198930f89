"""X API v2 fetching against a fake API: token handling, billing estimate, pagination."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fake_servers import NOW, FakeX, quiet_client
from tweettwin.cli import cli
from tweettwin.errors import ConfigError, FetchError
from tweettwin.ingest.fetch import fetch
from tweettwin.ingest.fetch.x_api import TOKEN_ENV
from tweettwin.ingest.sources.fetched import read_fetched

SPEC = "x:@alice"
TWEETS = "/2/users/2244994945/tweets"
TOKEN = "tok-SECRET-0123456789"


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN


def _fetch(server, **kwargs):
    return fetch(SPEC, output="out", api_base=server.url, client=quiet_client(), **kwargs)


def test_no_token_is_a_clear_error_naming_the_variable():
    with FakeX(5) as server:
        with pytest.raises(ConfigError, match=f"set {TOKEN_ENV}"):
            _fetch(server)
        assert server.requests == []  # nothing sent, nothing billed


def test_wrong_token_is_rejected_clearly(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    with FakeX(5) as server:
        with pytest.raises(ConfigError, match=f"rejected the bearer token .*check {TOKEN_ENV}"):
            _fetch(server)


def test_paginates_with_next_token_long_posts_retweets_replies(token):
    with FakeX(250) as server:
        result = _fetch(server, yes=True)
        asked = [params for path, params, _ in server.requests if path == TWEETS]
    assert result.total == 250 and result.complete
    assert result.estimated_reads == 250 and result.estimated_cost_usd == 1.25
    assert [a.get("pagination_token") is None for a in asked] == [True, False, False]
    assert all(
        "note_tweet" in a["tweet.fields"] and "referenced_tweets" in a["tweet.fields"]
        for a in asked
    )
    posts = list(read_fetched("out").posts)
    assert len({p.id for p in posts}) == 250
    flags = Counter((p.is_repost, p.is_reply) for p in posts)
    assert flags[(True, False)] == 25 and flags[(False, True)] == 25
    long = next(p for p in posts if p.text.startswith("Long tweet number 5:"))
    assert len(long.text) > 300 and "…" not in long.text  # note_tweet.text, not the cut text
    link = next(p for p in posts if p.text.startswith("Map number 7 "))
    assert link.urls == ["https://t.co/xyz7"] and link.source == "x-api"


def test_large_fetch_needs_yes_and_prints_the_estimate(token):
    events = []
    with FakeX(250) as server:
        with pytest.raises(ConfigError, match=r"about 250 post reads \(≈ \$1.25 .*--yes"):
            fetch(
                SPEC,
                output="out",
                api_base=server.url,
                client=quiet_client(),
                progress=events.append,
            )
        assert server.paths(TWEETS) == []  # refused before reading a single post
    assert any(e.event == "estimate" and "250 post reads" in e.message for e in events)


def test_explicit_limit_caps_reads_without_yes_and_continues_exactly(token):
    with FakeX(250) as server:
        first = _fetch(server, limit=7)
        assert first.fetched == 7 and first.estimated_reads == 7 and not first.complete
        asked = [p for path, p, _ in server.requests if path == TWEETS]
        assert asked[0]["max_results"] == "7"
        second = _fetch(server, limit=120)  # the open pass goes on from post 8
        rest = _fetch(server, yes=True)
    assert (second.fetched, rest.fetched, rest.total) == (113, 130, 250)
    ids = [json.loads(line)["id"] for line in Path("out/posts.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 250


def test_tiny_limit_below_the_api_minimum_page(token):
    with FakeX(40) as server:
        result = _fetch(server, limit=3)
        asked = [p for path, p, _ in server.requests if path == TWEETS]
        assert asked[0]["max_results"] == "5"  # the API minimum; the extra two are not stored
        more = _fetch(server, limit=10)
        assert [p for path, p, _ in server.requests if path == TWEETS][-1].get("until_id")
    assert result.fetched == 3 and more.fetched == 7
    ids = [json.loads(line)["id"] for line in Path("out/posts.jsonl").read_text().splitlines()]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 10


def test_update_asks_only_for_newer_posts(token):
    with FakeX(30) as server:
        _fetch(server)
        server.add_tweets(4)
        result = _fetch(server, update=True)
        last = [p for path, p, _ in server.requests if path == TWEETS][-1]
    assert result.fetched == 4 and result.total == 34
    assert last["since_id"] == str(1_600_000_000_000_000_000 + 30 * 1000)


def test_rate_limit_reset_header_without_retry_after(token):
    with FakeX(20) as server:
        server.fault(
            TWEETS,
            429,
            {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
            headers={
                "x-rate-limit-limit": "900",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(NOW) + 120),
            },
        )
        client = quiet_client()
        result = fetch(SPEC, output="out", api_base=server.url, client=client)
    assert client.sleeps == [121.0] and result.total == 20


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"protected": True}, FetchError, "is protected"),
        ({"suspended": True}, FetchError, "is suspended"),
        ({"username": "someoneelse"}, FetchError, "@alice not found"),
    ],
)
def test_unavailable_accounts(token, kwargs, error, message):
    with FakeX(3, **kwargs) as server:
        with pytest.raises(error, match=message):
            _fetch(server)


def test_token_never_leaks(token, tmp_path):
    with FakeX(30) as server:
        # an error body that echoes the request's Authorization header back
        server.fault(
            TWEETS,
            403,
            {"title": "Forbidden", "detail": f"bad header Bearer {TOKEN}", "status": 403},
        )
        runner = CliRunner()
        failed = runner.invoke(cli, ["fetch", SPEC, "--api-base", server.url, "-o", "out"])
        ok = runner.invoke(cli, ["fetch", SPEC, "--api-base", server.url, "-o", "out", "--json"])
        client = quiet_client()
        fetch(SPEC, output="out2", api_base=server.url, client=client)
    assert (
        failed.exit_code == 2 and "bad header Bearer ***" in failed.output
    )  # redacted, still useful
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["total"] == 30
    for text in (failed.output, ok.output, repr(client)):
        assert TOKEN not in text
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert TOKEN.encode() not in file.read_bytes(), file
    from tweettwin.ingest.fetch.x_api import XApi, bearer_token

    assert TOKEN not in repr(XApi(client, "alice", server.url, bearer_token()))
