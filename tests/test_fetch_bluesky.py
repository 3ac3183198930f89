"""Bluesky fetching against a fake AppView, and reading the folder back as Posts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.fake_servers import NOW, FakeBluesky, quiet_client
from tweettwin.errors import FetchError
from tweettwin.ingest.fetch import fetch, parse_spec
from tweettwin.ingest.sources.fetched import read_fetched, strip_link_facets

SPEC = "bluesky:alice.test"
FEED = "/xrpc/app.bsky.feed.getAuthorFeed"


def _fetch(server, **kwargs):
    return fetch(SPEC, output="out", api_base=server.url, client=quiet_client(), **kwargs)


def _lines() -> list[dict]:
    return [json.loads(line) for line in Path("out/posts.jsonl").read_text().splitlines()]


def test_paginates_with_cursor_and_drops_the_pin():
    with FakeBluesky(230) as server:
        result = _fetch(server)
        asked = [params for path, params, _ in server.requests if path == FEED]
    assert result.total == 230 and result.complete
    assert [a.get("cursor") is None for a in asked] == [True, False, False]
    assert all(
        a["limit"] == "100"
        and a["filter"] == "posts_with_replies"
        and a["actor"] == "did:plc:alice"
        for a in asked
    )
    uris = [item["post"]["uri"] for item in _lines()]
    assert len(uris) == len(set(uris)) == 230  # the pinned post is not stored twice
    assert not any(
        (item.get("reason") or {}).get("$type", "").endswith("reasonPin") for item in _lines()
    )


def test_reposts_and_replies_are_flagged():
    with FakeBluesky(100) as server:
        _fetch(server)
    posts = list(read_fetched("out").posts)
    flags = Counter((p.is_repost, p.is_reply) for p in posts)
    assert flags[(True, False)] == 10 and flags[(False, True)] == 10 and flags[(False, False)] == 80
    repost = next(p for p in posts if p.is_repost)
    assert repost.text == "" and repost.id.startswith("at://did:plc:alice/app.bsky.feed.repost/")
    plain = next(p for p in posts if p.text == "Skeet number 1 about rivers and light")
    assert (
        plain.created_at == "2024-03-01T12:01:00Z"
        and plain.source == "bluesky"
        and plain.lang == "en"
    )


def test_link_facets_are_cut_by_byte_range_after_multibyte_text():
    with FakeBluesky(12) as server:
        _fetch(server)
    post = next(p for p in read_fetched("out").posts if p.text.startswith("Café"))
    # the shortened visible link text ("example.com/very-long-pa…") is gone, multibyte text intact
    assert post.text == "Café ☕ 🎉 read 2: now"
    assert post.urls == ["https://example.com/very-long-path/page"]


def test_strip_link_facets_ignores_mentions_and_bad_ranges():
    text = "héllo @bob.test see x.com/a… end"
    b = text.encode()
    mention = {
        "index": {"byteStart": b.index(b"@"), "byteEnd": b.index(b" see")},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}],
    }
    link = {
        "index": {"byteStart": b.index(b"x.com"), "byteEnd": b.index(b" end")},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://x.com/abc"}],
    }
    broken = {"index": {"byteStart": 5, "byteEnd": 999}, "features": link["features"]}
    assert strip_link_facets(text, [mention, link, broken]) == "héllo @bob.test see end"


def test_repeating_cursor_stops_with_a_warning_and_keeps_the_posts():
    with FakeBluesky(150, repeat_cursor=True) as server:
        result = _fetch(server)
        pages = len(server.paths(FEED))
    assert pages == 2  # the second answer repeats the cursor: stop there, no endless loop
    assert result.total == 100 and result.warnings and "same page" in result.warnings[0]


def test_update_stops_at_the_first_known_post():
    with FakeBluesky(150) as server:
        _fetch(server)
        server.add_posts(5)
        before = len(server.requests)
        result = _fetch(server, update=True)
        pages = [p for p, _, _ in server.requests[before:] if p == FEED]
    assert result.fetched == 5 and result.total == 155 and len(pages) == 1
    keys = [json.dumps(item["post"]["uri"]) + json.dumps(item.get("reason")) for item in _lines()]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"error": "AccountTakedown"}, "taken down"),
        ({"error": "AccountDeactivated"}, "deactivated"),
        ({"labels": ["!no-unauthenticated"]}, "logged-out users"),
    ],
)
def test_unavailable_accounts(kwargs, message):
    with FakeBluesky(3, **kwargs) as server:
        with pytest.raises(FetchError, match=message):
            _fetch(server)


def test_unknown_account():
    with FakeBluesky(3) as server:
        with pytest.raises(FetchError, match=r"@nobody.test not found"):
            fetch("bluesky:nobody.test", output="out", api_base=server.url, client=quiet_client())


def test_bluesky_rate_limit_header():
    with FakeBluesky(20) as server:
        server.fault(
            FEED,
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            headers={
                "ratelimit-limit": "3000",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(int(NOW) + 45),
            },
        )
        client = quiet_client()
        result = fetch(SPEC, output="out", api_base=server.url, client=client)
    assert client.sleeps == [46.0] and result.total == 20


def test_spec_forms():
    assert parse_spec("bluesky:@Alice.bsky.social").handle == "alice.bsky.social"
    assert parse_spec("bluesky:alice").handle == "alice.bsky.social"
    assert parse_spec("bluesky:did:plc:abc123").handle == "did:plc:abc123"
    assert parse_spec("mastodon:@Bob@Mastodon.Social").handle == "Bob@mastodon.social"
    assert parse_spec("x:@jack").handle == "jack"
