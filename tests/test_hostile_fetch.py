"""Hostile servers and hostile fetch folders: nothing outside the folder touched, no secret
stored or shown, nothing private trained on, every request bounded in time and size."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.fake_servers import NOW, quiet_client
from tests.hostile import assert_error, run
from tweettwin.errors import FetchError, InputError, NetworkError, OutputError
from tweettwin.ingest.fetch import fetch
from tweettwin.ingest.fetch.http import HttpClient, rate_limit_delay
from tweettwin.ingest.fetch.store import read_manifest
from tweettwin.ingest.sources.fetched import bluesky_post, mastodon_post, read_fetched

SPEC = "mastodon:@alice@social.example"
BASE = "https://social.example"


def _status(i: int, **extra) -> dict:
    return {
        "id": str(110_000_000 + i),
        "created_at": "2024-01-01T00:00:00.000Z",
        "visibility": "public",
        "content": f"<p>post number {i} about bread and ovens and flour</p>",
        "in_reply_to_id": None,
        "reblog": None,
        **extra,
    }


class Masto:
    """A Mastodon API as an httpx handler; ``pages`` decides what each statuses call returns."""

    def __init__(self, statuses: list[dict], count: int | None = None, endless: bool = False):
        self.statuses = statuses
        self.count = len(statuses) if count is None else count
        self.endless = endless
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/accounts/lookup":
            return httpx.Response(
                200,
                json={"id": "7", "username": "alice", "statuses_count": self.count},
            )
        if path == "/api/v1/accounts/7/statuses":
            self.calls += 1
            if self.endless:  # fresh ids forever, always a next page
                start = self.calls * 40
                page = [_status(start + k) for k in range(40)][::-1]
            else:
                max_id = request.url.params.get("max_id")
                rows = [s for s in self.statuses if not max_id or _before(s, max_id)]
                page = rows[:40]
            return httpx.Response(200, json=page)
        return httpx.Response(404, json={"error": "Record not found"})


def _before(status, max_id) -> bool:
    sid = status.get("id") if isinstance(status, dict) else None
    return isinstance(sid, str) and sid.isdigit() and int(sid) < int(max_id)


def _client(handler, **kwargs) -> HttpClient:
    return quiet_client(transport=httpx.MockTransport(handler), **kwargs)


def _fetch(handler, out, **kwargs):
    client = kwargs.pop("client", None) or _client(handler)
    return fetch(SPEC, output=out, api_base=BASE, client=client, **kwargs)


# --- the fetch folder is data, not instructions ------------------------------------------------


@pytest.mark.parametrize("items_file", ["../victim.txt", "/ABS", "sub/../../victim.txt", "..", ""])
def test_manifest_items_file_cannot_name_a_path_outside_the_folder(tmp_path, items_file):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n" * 100)
    out = tmp_path / "out"
    _fetch(Masto([_status(i) for i in range(5, 0, -1)]), out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["items_file"] = str(victim) if items_file == "/ABS" else items_file
    manifest["complete"] = False
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="items_file"):
        _fetch(Masto([_status(i) for i in range(5, 0, -1)]), out)
    with pytest.raises(InputError, match="items_file"):
        read_fetched(out)
    assert victim.read_text() == "precious\n" * 100


def test_items_file_symlinked_out_of_the_folder_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    _fetch(Masto([_status(1)]), out)
    (out / "posts.jsonl").unlink()
    (out / "posts.jsonl").symlink_to(victim)
    with pytest.raises(InputError, match="link"):
        _fetch(Masto([_status(1)]), out, update=True)
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize(
    "field, value", [("bytes", "lots"), ("items", -1), ("account", []), ("pass", 3)]
)
def test_manifest_fields_of_the_wrong_type_are_one_line(tmp_path, field, value):
    out = tmp_path / "out"
    _fetch(Masto([_status(1)]), out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest[field] = value
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert_error(run("prepare", out), "manifest.json", repr(field))


def test_deep_json_in_a_fetch_folder_is_one_line(tmp_path):
    out = tmp_path / "out"
    _fetch(Masto([_status(1)]), out)
    with open(out / "posts.jsonl", "w") as fh:
        fh.write("[" * 100_000 + "\n")
    manifest = read_manifest(out)
    manifest["bytes"] = (out / "posts.jsonl").stat().st_size
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert_error(run("prepare", out), "posts.jsonl, line 1", "nested too deeply")


@pytest.mark.parametrize("content", [["a", "b"], {"x": 1}, 5])
def test_fetched_fields_of_the_wrong_type_name_file_and_line(tmp_path, content):
    out = tmp_path / "out"
    _fetch(Masto([_status(2), _status(1, content=content)]), out)
    assert_error(run("prepare", out), "posts.jsonl, line 2", "wrong type")


# --- privacy: visibility is an allow-list -----------------------------------------------------


@pytest.mark.parametrize(
    "visibility, private",
    [
        ("public", False),
        ("unlisted", False),
        ("Public", False),
        (" UNLISTED ", False),
        ("private", True),
        ("direct", True),
        ("limited", True),
        ("mutuals_only", True),
        ("local", True),
        ("followers", True),
        ("", True),
        (None, True),
        (1, True),
        (["public"], True),
    ],
)
def test_mastodon_visibility_allow_list(visibility, private):
    status = _status(1, visibility=visibility)
    assert mastodon_post(status, "alice").private is private
    status.pop("visibility")
    assert mastodon_post(status, "alice").private is True  # missing: never trained on


def test_bluesky_post_of_an_author_hidden_from_logged_out_viewers_is_private():
    item = {
        "post": {
            "uri": "at://did:plc:a/app.bsky.feed.post/1",
            "author": {"did": "did:plc:a", "labels": [{"val": "!no-unauthenticated"}]},
            "record": {"text": "hello there my friends", "createdAt": "2024-01-01T00:00:00Z"},
        }
    }
    assert bluesky_post(item, "a", "did:plc:a").private is True
    item["post"]["author"]["labels"] = []
    assert bluesky_post(item, "a", "did:plc:a").private is False


def test_fetched_private_posts_never_reach_the_dataset(tmp_path):
    kinds = ["public", "unlisted", "private", "direct", "limited", "mutuals_only", "local", None]
    statuses = []
    for i in range(400, 0, -1):
        vis = kinds[i % len(kinds)]
        text = f"<p>{'SECRET' if vis not in ('public', 'unlisted') else 'open'} post {i} "
        statuses.append(
            _status(
                i,
                visibility=vis,
                content=text
                + "with enough words here about bread ovens flour sugar and butter</p>",
            )
        )
    out = tmp_path / "out"
    _fetch(Masto(statuses), out)
    result = run("prepare", out, "-o", tmp_path / "data")
    assert result.exit_code == 0, result.output
    for name in ("train.jsonl", "validation.jsonl"):
        assert "SECRET" not in (tmp_path / "data" / name).read_text()


# --- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "api_base",
    [
        "http://user:s3cr3tpw@social.example",
        "https://s3cr3tpw@social.example",
        "https://social.example/?access_token=s3cr3tpw",
        "https://social.example/#s3cr3tpw",
        "http://user:s3cr3tpw@[::1",
        "ftp://user:s3cr3tpw@social.example",
    ],
)
def test_credentials_in_api_base_are_refused_and_never_shown_or_stored(tmp_path, api_base):
    result = run("fetch", SPEC, "--api-base", api_base, "-o", tmp_path / "out")
    line = assert_error(result, "--api-base")
    assert "s3cr3tpw" not in line
    assert not (tmp_path / "out").exists()


def test_webfinger_credentials_are_not_kept(tmp_path):
    from tweettwin.ingest.fetch.mastodon import Mastodon

    def handler(request):
        if request.url.path == "/.well-known/webfinger":
            return httpx.Response(
                200,
                json={
                    "subject": "acct:alice@social.example",
                    "links": [{"rel": "self", "href": "https://u:s3cr3t@other.example/users/a"}],
                },
            )
        return httpx.Response(404, json={})

    masto = Mastodon(_client(handler), "alice@social.example", BASE)
    base, _ = masto._webfinger()
    assert base == "https://other.example"


# --- time and size bounds ---------------------------------------------------------------------


def test_a_body_that_trickles_forever_hits_the_overall_deadline():
    def trickle():
        while True:
            time.sleep(0.05)
            yield b" "

    def handler(request):
        return httpx.Response(200, content=trickle())

    client = _client(handler, deadline=0.5)
    start = time.monotonic()
    with pytest.raises(NetworkError, match="no complete answer"):
        client.get(BASE + "/x", service="Mastodon")
    assert time.monotonic() - start < 5


def test_a_huge_body_is_refused_without_being_held():
    def endless():
        block = b"x" * (1 << 16)
        while True:
            yield block

    client = _client(lambda request: httpx.Response(200, content=endless()), max_body=1 << 20)
    with pytest.raises(FetchError, match="more than"):
        client.get(BASE + "/x", service="Mastodon")


def test_deep_json_from_a_server_is_one_line(tmp_path):
    def handler(request):
        return httpx.Response(200, content=b"[" * 100_000)

    with pytest.raises(FetchError, match="nested too deeply"):
        _fetch(handler, tmp_path / "out")


def test_endless_pages_stop_at_the_accounts_own_count(tmp_path):
    server = Masto([], count=200, endless=True)
    result = _fetch(server, tmp_path / "out")
    assert 200 <= result.total <= 200 + 100 + 40
    assert any("past the" in w for w in result.warnings)
    assert server.calls < 20


def test_endless_pages_stop_at_the_hard_cap_without_a_count(tmp_path, monkeypatch):
    import tweettwin.ingest.fetch.passes as passes_module

    monkeypatch.setattr(passes_module, "MAX_POSTS_PER_PASS", 500)
    server = Masto([], endless=True)
    server.count = None
    result = _fetch(server, tmp_path / "out")
    assert 500 <= result.total <= 540


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "9" * 40},
        {"retry-after": "1e400"},
        {"x-rate-limit-reset": "1e400"},
        {"x-rate-limit-reset": "inf"},
        {"x-ratelimit-reset": "9999-12-31T23:59:59Z"},
    ],
)
def test_a_huge_retry_after_is_one_line(headers):
    def handler(request):
        return httpx.Response(429, headers=headers, json={})

    client = _client(handler)
    with pytest.raises(NetworkError, match="rerun later") as info:
        client.get(BASE + "/x", service="Mastodon")
    assert "\n" not in str(info.value)
    assert all(s <= 60 for s in client.sleeps)  # an unreadable value: short backoff, never forever


def test_a_nan_reset_header_does_not_wait_forever():
    assert rate_limit_delay({"retry-after": "nan"}, NOW) is None  # not a number of seconds
    client = quiet_client()
    client.wait(float("nan"), "x")
    assert client.sleeps == [0.0]


def test_statuses_without_a_usable_id_are_skipped(tmp_path):
    statuses = [
        _status(9),
        {k: v for k, v in _status(8).items() if k != "id"},
        _status(7, id=None),
        _status(6, id={"x": 1}),
        _status(5, id="not-a-number"),
        "just a string",
        [1, 2],
        _status(4),
        {"content": "no id at the end either"},
    ]
    out = tmp_path / "out"
    result = _fetch(Masto(statuses), out)
    assert result.total == 2 and result.skipped == 7
    assert any("without a usable id" in w for w in result.warnings)
    assert sorted(p.id for p in read_fetched(out).posts) == ["110000004", "110000009"]


def test_fetch_into_a_path_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")

    def handler(request):
        return Masto([_status(1)])(request)

    with pytest.raises(OutputError, match="cannot write"):
        _fetch(handler, tmp_path / "afile" / "out")
    assert (tmp_path / "afile").read_text() == "x"


def test_bluesky_feed_with_junk_items_is_read(tmp_path):
    from tweettwin.ingest.fetch.bluesky import Bluesky

    def handler(request):
        if request.url.path.endswith("getProfile"):
            return httpx.Response(200, json={"did": "did:plc:a", "handle": "a.bsky.social"})
        feed = ["junk", 5, {"post": "no"}, {"post": {"uri": "at://x/1", "record": {"text": "hi"}}}]
        return httpx.Response(200, json={"feed": feed})

    bsky = Bluesky(_client(handler), "a.bsky.social", "https://bsky.example")
    page = bsky.page(bsky.lookup(), None, None, 100)
    assert [Bluesky.key(item) for item in page.items] == ["at://x/1"]


def test_items_file_default_is_used_when_absent(tmp_path):
    out = tmp_path / "out"
    _fetch(Masto([_status(2), _status(1)]), out)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["items_file"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert len(list(read_fetched(out).posts)) == 2
    assert Path(out / "posts.jsonl").exists()


def test_escape_sequences_in_a_servers_error_never_reach_the_terminal(tmp_path):
    def lookup_fails(request):
        return httpx.Response(400, json={"error": "\x1b[2J\x1b]0;pwned\x07bad acct"})

    with pytest.raises(FetchError) as info:
        _fetch(lookup_fails, tmp_path / "out")
    assert "bad acct" in str(info.value) and "\x1b" not in str(info.value)
    assert "pwned" not in str(info.value)


@pytest.mark.parametrize("count", ["200", -5, [1], 2.5, True, {"n": 1}])
def test_a_profile_with_junk_fields_still_fetches(tmp_path, count):
    def handler(request):
        if request.url.path == "/api/v1/accounts/lookup":
            return httpx.Response(
                200,
                json={
                    "id": "7",
                    "username": ["x"],
                    "display_name": {"a": 1},
                    "statuses_count": count,
                },
            )
        return Masto([_status(2), _status(1)])(request)

    result = _fetch(handler, tmp_path / "out")
    assert result.total == 2 and result.account == "alice@social.example"
    manifest = read_manifest(tmp_path / "out")
    assert manifest["account"]["posts_count"] is None and manifest["account"]["name"] == ""


@pytest.mark.parametrize(
    "response",
    [
        lambda request: httpx.Response(302, headers={"location": str(request.url)}),
        lambda request: httpx.Response(302, headers={"location": "ftp://elsewhere/x"}),
        lambda request: httpx.Response(
            200, headers={"content-encoding": "gzip"}, content=b"not gzip at all"
        ),
    ],
)
def test_redirect_loops_and_undecodable_bodies_are_one_line(response):
    client = _client(response)
    with pytest.raises(NetworkError, match="unusable answer"):
        client.get(BASE + "/x", service="Mastodon")


def test_temp_manifests_of_killed_fetches_are_cleaned(tmp_path):
    out = tmp_path / "out"
    _fetch(Masto([_status(1)]), out)
    stale = out / f".manifest.json.{2**22 + 7}-abc.tmp"
    stale.write_text("{half")
    _fetch(Masto([_status(2), _status(1)]), out, update=True)
    assert not stale.exists()
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "posts.jsonl"]


def test_a_very_long_handle_fetches_into_a_usable_folder(tmp_path):
    user = "a" * 300
    statuses = [_status(2), _status(1)]

    def handler(request):
        if request.url.path == "/api/v1/accounts/lookup":
            return httpx.Response(200, json={"id": "7", "username": user, "statuses_count": 2})
        return Masto(statuses)(request)

    result = fetch(
        f"mastodon:@{user}@social.example", api_base=BASE, client=_client(handler),
        workspace=tmp_path / "ws",
    )  # fmt: skip
    assert result.total == 2
    assert all(len(part.encode()) <= 120 for part in Path(result.output).parts)
    from tweettwin.ingest.fetch import is_fetch_spec

    assert is_fetch_spec(f"mastodon:@{user}@social.example")  # no ENAMETOOLONG traceback


@pytest.mark.parametrize("seed", range(10))
def test_odd_field_types_from_a_server_never_escape_the_error_tree(tmp_path, seed):
    import random

    from tests.test_hostile_sources import _swap_fields
    from tweettwin.errors import TweettwinError
    from tweettwin.ingest.options import PrepareOptions
    from tweettwin.ingest.prepare import prepare

    rng = random.Random(seed)
    keep = frozenset(("id",)) if seed % 2 else frozenset()
    statuses = [_swap_fields(_status(i), rng, 0.3, keep) for i in range(60, 0, -1)]
    out = tmp_path / "out"
    try:
        _fetch(Masto(statuses), out)
        prepare([out], tmp_path / "data", PrepareOptions(min_chars=1, warn_chars=1, min_words=0))
    except TweettwinError as ex:
        assert "\n" not in str(ex)
