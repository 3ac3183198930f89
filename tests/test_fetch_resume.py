"""Interrupted fetches resume without duplicates or gaps; the CLI; fetched folders feed prepare."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fake_servers import FakeBluesky, FakeMastodon, quiet_client
from tweettwin.cli import cli
from tweettwin.ingest.fetch import fetch
from tweettwin.ingest.fetch.store import read_manifest
from tweettwin.ingest.sources import open_source

SPEC = "mastodon:@alice@social.example"


def _ids(folder) -> list[str]:
    return [
        json.loads(line)["id"] for line in (Path(folder) / "posts.jsonl").read_text().splitlines()
    ]


def test_crash_between_page_write_and_manifest_is_cut_on_resume():
    with FakeMastodon(100) as server:
        fetch(SPEC, output="out", api_base=server.url, client=quiet_client(), limit=40)
        # What a crash leaves when the next page reached posts.jsonl but not the manifest:
        # whole lines plus a half-written one.
        with open("out/posts.jsonl", "ab") as fh:
            fh.write(json.dumps(server.statuses[40]).encode() + b"\n" + b'{"id": "1100000')
        assert [p.id for p in open_source("out").posts][-1] != server.statuses[40][
            "id"
        ]  # readers skip it
        result = fetch(SPEC, output="out", api_base=server.url, client=quiet_client())
    ids = _ids("out")
    assert result.total == 100 and len(ids) == len(set(ids)) == 100
    assert set(ids) == {s["id"] for s in server.statuses}


def _run_cli(args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "tweettwin", "fetch", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition, timeout=30.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting for the fetch to progress"
        time.sleep(0.01)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_fetch_then_rerun_has_no_duplicates_or_gaps(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with FakeMastodon(400) as server:
        args = [SPEC, "--api-base", server.url, "-o", str(tmp_path / "out")]
        server.slow_after, server.slow_delay = 2, 0.15  # 2 quick pages, then slow ones
        for kill_at in (3, 6):  # killed twice, each time with a page request in flight
            proc = _run_cli(args, env)
            _wait_for(lambda: server.page_requests >= kill_at)  # noqa: B023 (called right away)
            time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
        partial = read_manifest(tmp_path / "out")
        assert 0 < partial["items"] < 400 and partial["pass"]["cursor"]
        server.slow_after = None
        done = _run_cli([*args, "--json"], env)
        out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["total"] == 400 and result["complete"] is True
    ids = _ids(tmp_path / "out")
    assert len(ids) == len(set(ids)) == 400
    assert set(ids) == {s["id"] for s in server.statuses}


def test_cli_json_and_error_lines():
    runner = CliRunner()
    with FakeMastodon(30) as server:
        ok = runner.invoke(cli, ["fetch", SPEC, "--api-base", server.url, "-o", "out", "--json"])
        bad = runner.invoke(
            cli, ["fetch", "mastodon:@nobody@social.example", "--api-base", server.url, "-o", "o2"]
        )
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert (data["platform"], data["account"], data["total"], data["complete"]) == (
        "mastodon",
        "alice@social.example",
        30,
        True,
    )
    assert bad.exit_code == 2
    assert (
        bad.output.strip()
        .splitlines()[-1]
        .startswith("Error: Mastodon account @nobody@social.example not found")
    )
    usage = runner.invoke(cli, ["fetch", "myspace:@tom"])
    assert usage.exit_code == 2 and "mastodon:@user@instance" in usage.output
    # each fetch is a run in the local registry: the good one completed, the bad one failed
    from tweettwin.tracking import list_runs

    runs = {r.status: r for r in list_runs(kind="fetch")}
    assert set(runs) == {"completed", "failed"}
    assert runs["completed"].lineage["account"] == "alice@social.example"


def test_default_folder_is_in_the_workspace():
    with FakeMastodon(5) as server:
        result = fetch(SPEC, api_base=server.url, client=quiet_client())
    assert (
        result.output
        == Path(os.environ["TWEETTWIN_WORKSPACE"]) / "alice@social.example" / "raw" / "mastodon"
    )


def _prepare(sources):
    from tweettwin.ingest.options import PrepareOptions
    from tweettwin.ingest.prepare import prepare

    return prepare(sources, output="dataset", options=PrepareOptions(min_chars=0, warn_chars=0))


def test_prepare_reads_a_fetched_folder_with_the_stats():
    with FakeMastodon(95) as server:
        fetch(SPEC, output="fetched", api_base=server.url, client=quiet_client())
    with FakeBluesky(60) as server:
        fetch("bluesky:alice.test", output="sky", api_base=server.url, client=quiet_client())
    result = _prepare(["fetched", "sky"])
    reports = {r.handle: r for r in result.authors}
    masto, sky = reports["alice@social.example"], reports["alice.test"]
    assert (masto.downloaded, masto.retweets, masto.excluded_private) == (95, 10, 9)
    assert masto.kept == 95 - 10 - 9 - masto.dropped_replies - masto.short - masto.duplicates
    assert (sky.downloaded, sky.retweets) == (60, 6)
    rows = [
        json.loads(line)
        for name in ("train", "validation")
        for line in Path(f"dataset/{name}.jsonl").read_text().splitlines()
    ]
    texts = " ".join(r["text"] for r in rows)
    assert "Private toot" not in texts and "Bob's" not in texts  # private posts and boosts dropped
    assert "https://" not in texts and "example.com/very-long-pa" not in texts  # links stripped
    assert {r["source"] for r in rows} == {"mastodon-api", "bluesky"}


def test_prepare_fetches_a_handle_on_the_fly():
    with FakeMastodon(60) as server:
        host = server.url.removeprefix("http://")
        result = _prepare([f"mastodon:@alice@{host}"])
        server.add_statuses(3)
        again = _prepare([f"mastodon:@alice@{host}"])  # a second prepare fetches only what is new
        asked = [p for path, p, _ in server.requests if path.endswith("/statuses")]
    assert result.authors[0].downloaded == 60 and again.authors[0].downloaded == 63
    assert asked[-1].get("since_id")
    raw = (
        Path(os.environ["TWEETTWIN_WORKSPACE"])
        / f"alice@{host.replace(':', '_')}"
        / "raw"
        / "mastodon"
    )
    assert read_manifest(raw)["items"] == 63
