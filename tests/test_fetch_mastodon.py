"""Mastodon fetching against a fake instance, and reading the folder back as Posts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.fake_servers import FakeMastodon, quiet_client
from tweettwin.errors import FetchError, OutputExistsError
from tweettwin.ingest.fetch import fetch
from tweettwin.ingest.fetch.store import read_manifest
from tweettwin.ingest.sources.fetched import read_fetched

SPEC = "mastodon:@alice@social.example"
STATUSES = "/api/v1/accounts/1001/statuses"


def _fetch(server, out="out", **kwargs):
    return fetch(SPEC, output=out, api_base=server.url, client=quiet_client(), **kwargs)


def _ids(folder) -> list[str]:
    return [
        json.loads(line)["id"] for line in (Path(folder) / "posts.jsonl").read_text().splitlines()
    ]


def test_paginates_every_status_once_with_boosts_and_replies():
    with FakeMastodon(95) as server:
        result = _fetch(server)
        requests = [params for path, params, _ in server.requests if path == STATUSES]
    assert result.total == result.fetched == 95 and result.complete
    ids = _ids("out")
    assert len(ids) == len(set(ids)) == 95
    assert set(ids) == {s["id"] for s in server.statuses}
    # 40 a page, max_id from the Link header, boosts asked for (so prepare can count them)
    assert [r.get("max_id") for r in requests][:3] == [None, ids[39], ids[79]]
    assert all(r["limit"] == "40" and r["exclude_reblogs"] == "false" for r in requests)
    posts = list(read_fetched("out").posts)
    flags = Counter((p.is_repost, p.is_reply, p.private) for p in posts)
    assert flags[(True, False, False)] == 10  # boosts
    assert flags[(False, True, False)] == 10  # replies
    assert flags[(False, False, True)] == 9  # private + direct, never trained on
    manifest = read_manifest("out")
    assert manifest["format"] == "tweettwin-fetch" and manifest["platform"] == "mastodon"
    assert manifest["account"]["handle"] == "alice@social.example"
    assert manifest["newest_id"] == max(ids, key=int) and manifest["complete"] is True


def test_html_content_becomes_text_with_link_hrefs():
    with FakeMastodon(10) as server:
        _fetch(server)
    posts = {p.id: p for p in read_fetched("out").posts}
    link = next(p for p in posts.values() if p.text.startswith("Link post 7"))
    assert link.text == (
        "Link post 7: read https://example.com/some/long/path today\n\nsecond line\nthird line"
    )
    assert link.urls == ["https://example.com/some/long/path"]
    reply = next(p for p in posts.values() if p.is_reply)
    assert reply.text == "@bob reply number 5" and reply.urls == []
    boost = next(p for p in posts.values() if p.is_repost)
    assert boost.text == ""  # someone else's words are never kept as ours
    plain = next(p for p in posts.values() if p.text.startswith("Toot number 1:"))
    assert (
        plain.created_at == "2024-03-01T12:01:00Z"
        and plain.source == "mastodon-api"
        and plain.lang == "en"
    )
    assert plain.author == "alice@social.example"


def test_without_link_header_the_last_id_pages_on():
    with FakeMastodon(45, link_header=False) as server:
        result = _fetch(server)
    assert result.total == 45 and len(set(_ids("out"))) == 45


def test_webfinger_fallback_when_lookup_needs_a_login():
    with FakeMastodon(12, lookup_auth=True) as server:
        result = _fetch(server)
        paths = server.paths()
    assert result.total == 12
    assert "/.well-known/webfinger" in paths and "/api/v2/search" in paths


def test_unknown_account():
    with FakeMastodon(3) as server:
        with pytest.raises(FetchError, match=r"account @nobody@social.example not found"):
            fetch(
                "mastodon:@nobody@social.example",
                output="out",
                api_base=server.url,
                client=quiet_client(),
            )
    assert not Path("out").exists()


@pytest.mark.parametrize("mode", ["410", "flag"])
def test_suspended_account(mode):
    with FakeMastodon(3, suspended=mode) as server:
        with pytest.raises(FetchError, match="is suspended"):
            _fetch(server)


def test_locked_account_without_public_posts():
    with FakeMastodon(8, locked=True) as server:
        with pytest.raises(FetchError, match="is locked"):
            _fetch(server)


def test_update_fetches_only_newer_statuses():
    with FakeMastodon(50) as server:
        _fetch(server)
        newest = read_manifest("out")["newest_id"]
        again = _fetch(server)  # complete, no --update: nothing to do, no request for statuses
        assert again.fetched == 0
        server.add_statuses(7)
        before = len(server.requests)
        result = _fetch(server, update=True)
        asked = [params for path, params, _ in server.requests[before:] if path == STATUSES]
    assert result.fetched == 7 and result.total == 57
    assert asked[0]["since_id"] == newest
    ids = _ids("out")
    assert len(ids) == len(set(ids)) == 57
    assert read_manifest("out")["newest_id"] == max(ids, key=int)


def test_limit_stops_and_a_rerun_without_it_continues():
    with FakeMastodon(95) as server:
        first = _fetch(server, limit=50)
        assert (first.fetched, first.complete) == (50, False)
        assert read_manifest("out")["stopped"] == "limit"
        assert _fetch(server, limit=50).fetched == 0  # same limit: nothing more
        rest = _fetch(server)
    assert rest.fetched == 45 and rest.complete
    ids = _ids("out")
    assert len(ids) == len(set(ids)) == 95


def test_folder_of_another_account_is_refused(tmp_path):
    with FakeMastodon(3) as server:
        _fetch(server)
    with FakeMastodon(3, username="alice") as other:
        other.account["id"] = "2002"
        with pytest.raises(
            OutputExistsError, match="already holds posts of mastodon account alice@social.example"
        ):
            _fetch(other)
