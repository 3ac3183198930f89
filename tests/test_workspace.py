"""The Workspace: one layout, passed explicitly from the CLI and the Python API."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from tweettwin import tracking
from tweettwin.cli import cli
from tweettwin.ingest.fetch import default_output as fetch_output
from tweettwin.ingest.prepare import default_output as dataset_output
from tweettwin.pipeline import prepare_step
from tweettwin.workspace import Workspace

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-archive.zip"


def test_layout(tmp_path):
    ws = Workspace.resolve(tmp_path / "ws")
    assert ws.raw_dir("alice@social.example", "mastodon") == (
        tmp_path / "ws" / "alice@social.example" / "raw" / "mastodon"
    )
    assert ws.data_dir(["ann", "b/ob"]) == tmp_path / "ws" / "ann+b_ob" / "data"
    assert ws.model_dir_for(ws.data_dir(["ann"])) == tmp_path / "ws" / "ann" / "model"
    assert ws.db_path == tmp_path / "ws" / "runs.db" and ws.runs_dir == tmp_path / "ws" / "runs"
    assert os.fspath(ws) == str(tmp_path / "ws") and Workspace.resolve(ws) is ws
    # the library's defaults are this layout
    assert fetch_output("mastodon:@alice@social.example", ws) == ws.raw_dir(
        "alice@social.example", "mastodon"
    )
    assert dataset_output(["ann"], ws) == ws.data_dir(["ann"])


def test_environment_is_only_the_default(tmp_path):
    assert Workspace.resolve().root == Path(os.environ["TWEETTWIN_WORKSPACE"])
    assert Workspace.resolve(tmp_path).root == tmp_path


def test_cli_workspace_reaches_every_step_without_touching_the_environment(tmp_path):
    before = os.environ["TWEETTWIN_WORKSPACE"]
    other = tmp_path / "other"
    runner = CliRunner()
    prepared = runner.invoke(cli, ["--workspace", str(other), "prepare", str(SAMPLE), "--json"])
    assert prepared.exit_code == 0, prepared.output
    assert os.environ["TWEETTWIN_WORKSPACE"] == before
    output = Path(json.loads(prepared.stdout)["output"])
    assert output.parent.parent == other and output.name == "data"
    listed = json.loads(runner.invoke(cli, ["--workspace", str(other), "runs", "--json"]).stdout)
    assert [r["kind"] for r in listed] == ["prepare"]
    assert Path(listed[0]["run_dir"]).parent == (other / "runs").resolve()
    assert tracking.list_runs() == []  # the default workspace saw nothing


def test_python_api_takes_a_workspace(tmp_path):
    ws = Workspace.resolve(tmp_path / "api")
    result = prepare_step([SAMPLE], workspace=ws)
    assert result.output.parent.parent == ws.root
    assert [r.id for r in tracking.list_runs(workspace=ws)] == [result.run_id]
    assert tracking.list_runs() == []
