"""prepare_step + train_step on a tiny offline model: two linked runs, and lineage walks the
model folder back to the raw input file (what `make` and the CLI record)."""

from __future__ import annotations

import pytest

from tests.ml.conftest import synthetic_posts
from tweettwin import tracking
from tweettwin.ingest.options import PrepareOptions
from tweettwin.pipeline import prepare_step, train_step
from tweettwin.train_config import TrainConfig

pytest.importorskip("torch")
pytestmark = pytest.mark.ml


def test_steps_record_linked_runs_and_lineage_reaches_the_input_file(tiny_model_dir, tmp_path):
    posts = tmp_path / "notes.txt"
    posts.write_text("\n".join(p["text"] for p in synthetic_posts(200)) + "\n")
    prepared = prepare_step([posts], tmp_path / "data", PrepareOptions(min_chars=0))
    config = TrainConfig(base_model=str(tiny_model_dir), max_steps=2, block_size=64)
    trained = train_step(prepared.output, None, config)

    model = tmp_path / "model"  # default: beside the dataset folder
    base_hash = trained.training["base_model"]["weights_sha256"]
    assert trained.output_dir == str(model) and trained.to_dict()["run_id"] == trained.run_id
    run = tracking.get_run(trained.run_id)
    assert run.kind == "train" and run.status == "completed"
    assert run.lineage["base_model"].endswith(tiny_model_dir.name)  # (~ for the home folder)
    assert run.lineage["base_model_hash"] == base_hash
    assert [m["step"] for m in run.metrics()]  # the training loop reported to the run
    assert "validation loss" in (model / "README.md").read_text().lower()  # card from the folder

    lin = tracking.lineage(model)
    assert lin["base_model"]["sha256"] == base_hash
    assert lin["model"]["run_id"] == trained.run_id
    assert lin["dataset"]["run_id"] == prepared.run_id
    assert lin["dataset"]["content_hash"] == prepared.content_hash
    (source,) = lin["inputs"]
    assert source["location"] == str(posts.resolve()) and source["status"] == "ok"


def test_train_finishes_on_a_damaged_registry_with_one_warning_line(tiny_model_dir, tmp_path):
    import json

    from click.testing import CliRunner

    from tweettwin.cli import cli
    from tweettwin.paths import workspace

    posts = tmp_path / "notes.txt"
    posts.write_text("\n".join(p["text"] for p in synthetic_posts(200)) + "\n")
    prepared = prepare_step([posts], tmp_path / "data", PrepareOptions(min_chars=0))
    damaged = workspace() / "runs.db"
    damaged.write_bytes(b"\0garbage" * 512)
    args = ["train", str(prepared.output), "--base-model", str(tiny_model_dir)]
    args += ["--max-steps", "2", "--block-size", "64", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] is None  # not an id `runs show` cannot find
    assert (tmp_path / "model" / "model.safetensors").is_file()
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 1 and f"mv {damaged} {damaged}.damaged" in warned[0]
