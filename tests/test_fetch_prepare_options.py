"""`tweettwin prepare mastodon:@u@host` passes --api-base / --limit / --yes to the fetch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fake_servers import FakeMastodon
from tweettwin.cli import cli
from tweettwin.errors import ConfigError
from tweettwin.ingest.fetch.store import read_manifest
from tweettwin.ingest.options import PrepareOptions
from tweettwin.ingest.prepare import prepare
from tweettwin.ingest.sources import open_source

SPEC = "mastodon:@alice@social.example"  # a name the fake server answers only via --api-base


def _raw_folder() -> Path:
    return Path(os.environ["TWEETTWIN_WORKSPACE"]) / "alice@social.example" / "raw" / "mastodon"


def test_cli_prepare_fetches_on_the_fly_with_api_base_and_limit():
    Path("notes.txt").write_text(
        "\n".join(f"a plain line of text number {i} here" for i in range(40)) + "\n"
    )
    with FakeMastodon(60) as server:
        args = ["prepare", SPEC, "notes.txt", "--api-base", server.url, "--limit", "25"]
        done = CliRunner().invoke(cli, [*args, "-o", "dataset", "--min-chars", "0", "--json"])
    assert done.exit_code == 0, done.output
    authors = {a["handle"]: a for a in json.loads(done.stdout)["authors"]}
    assert authors["alice@social.example"]["downloaded"] == 25  # --limit reached the fetch
    assert authors["notes"]["downloaded"] == 40  # the file SOURCE ignores the fetch options
    assert read_manifest(_raw_folder())["items"] == 25
    asked = {path for path, _, _ in server.requests}
    assert any(path.endswith("/statuses") for path in asked)  # it went to --api-base


def test_prepare_api_passes_fetch_options_only_to_fetch_specs():
    with FakeMastodon(30) as server:
        result = prepare(
            [SPEC],
            output="dataset",
            options=PrepareOptions(min_chars=0, warn_chars=0),
            source_options={"api_base": server.url, "limit": 12, "yes": True},
        )
    assert result.authors[0].downloaded == 12
    assert read_manifest(_raw_folder())["items"] == 12
    # reader options for files accept (and ignore) them; unknown ones are still refused
    fetched = open_source(str(_raw_folder()), limit=3, yes=True, api_base="http://x")
    assert len(list(fetched.posts)) == 12
    with pytest.raises(ConfigError, match="unknown source option"):
        open_source(SPEC, bogus=1)


def test_python_fetch_and_prepare_of_a_handle_are_recorded_runs():
    from tweettwin.pipeline import fetch_step, prepare_step  # tweettwin.ingest.fetch / .prepare
    from tweettwin.tracking import list_runs

    with FakeMastodon(30) as server:
        fetched = fetch_step(SPEC, api_base=server.url, limit=10)
        prepared = prepare_step(
            [SPEC],
            "dataset",
            PrepareOptions(min_chars=0, warn_chars=0),
            source_options={"api_base": server.url},
        )
    fetch_runs = list_runs(kind="fetch")
    assert len(fetch_runs) == 2 and fetched.run_id in {r.id for r in fetch_runs}
    assert all(r.status == "completed" for r in fetch_runs)
    assert {r.lineage["raw_dir"] for r in fetch_runs} == {str(_raw_folder().resolve())}
    [prep] = list_runs(kind="prepare")
    assert prep.id == prepared.run_id and prep.lineage["dataset_hash"] == prepared.content_hash
    # the prepare run's input is the raw file the fetch run wrote
    assert any(Path(i["path"]).parent == _raw_folder().resolve() for i in prep.inputs)
