"""The tracked pipeline steps and the option groups that `prepare`, `train` and `make` share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tweettwin import tracking
from tweettwin.cli import cli
from tweettwin.cli.options import prepare_options_from, train_config_from
from tweettwin.errors import TweettwinError
from tweettwin.ingest.options import PrepareOptions
from tweettwin.pipeline import prepare_step
from tweettwin.train_config import TrainConfig

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-archive.zip"
TRAINING_FLAGS = {
    "--base-model", "--method", "--epochs", "--max-steps", "--max-minutes", "--lr",
    "--batch-size", "--block-size", "--author-tags", "--precision", "--compile", "--seed",
    "--report-to",
}  # fmt: skip


def _params(command: str, args: list[str]) -> dict:
    """What click parses for ``tweettwin COMMAND ARGS`` (no work is run)."""
    return cli.commands[command].make_context(command, args).params


def test_prepare_step_records_a_prepare_run_with_inputs_and_dataset(tmp_path):
    result = prepare_step([SAMPLE], tmp_path / "data", PrepareOptions(drop_replies=True))
    run = tracking.get_run(result.run_id)
    assert run.kind == "prepare" and run.status == "completed"
    assert run.config["options"]["drop_replies"] is True
    assert run.config["sources"] == [str(SAMPLE)]
    (item,) = run.inputs
    assert item["path"] == str(SAMPLE) and item["sha256"] == tracking.sha256_file(SAMPLE)
    assert run.lineage["dataset_hash"] == result.content_hash
    assert run.lineage["dataset_dir"] == str(tmp_path / "data")
    assert result.to_json()["run_id"] == result.run_id


def test_a_failed_prepare_step_is_recorded_as_failed(tmp_path):
    bad = tmp_path / "empty.txt"
    bad.write_text("")
    with pytest.raises(TweettwinError) as raised:  # the library's own error, unchanged
        prepare_step([bad], tmp_path / "data")
    (run,) = tracking.list_runs()
    assert run.kind == "prepare" and run.status == "failed"
    assert type(raised.value).__name__ in run.error
    assert not (tmp_path / "data").exists()


def test_no_flags_give_the_library_defaults():
    assert prepare_options_from(_params("prepare", ["x"])) == PrepareOptions()
    assert train_config_from(_params("train", ["data"])) == TrainConfig()
    make = _params("make", ["x"])
    assert prepare_options_from(make) == PrepareOptions()
    assert train_config_from(make) == TrainConfig()


def test_flags_reach_the_options():
    args = ["x", "--keep-links", "--drop-replies", "--keep-retweets", "--split", "time"]
    args += ["--min-chars", "0", "--lr", "0.01", "--method", "lora", "--epochs", "1.5"]
    args += ["--compile", "--author-tags", "--block-size", "64", "--seed", "7"]
    flags = _params("make", args)
    opts = prepare_options_from(flags)
    assert (opts.remove_links, opts.drop_replies, opts.drop_reposts) == (False, True, False)
    assert (opts.split, opts.min_chars) == ("time", 0)
    config = train_config_from(flags, overwrite=True)
    assert (config.method, config.learning_rate, config.epochs) == ("lora", 0.01, 1.5)
    assert config.compile and config.author_tags and config.overwrite
    assert (config.block_size, config.seed) == (64, 7)
    # unset --lr keeps the method's default rate
    assert train_config_from(_params("train", ["d", "--method", "lora"])).learning_rate == 1e-3


def test_train_and_make_take_the_same_training_flags():
    def training(command):
        params = cli.commands[command].params
        return {
            o: (p.name, p.default, type(p.type).__name__)
            for p in params
            for o in p.opts
            if o in TRAINING_FLAGS
        }

    assert set(training("train")) == TRAINING_FLAGS
    assert training("make") == training("train")
    prepare_flags = {o for p in cli.commands["prepare"].params for o in p.opts}
    assert prepare_flags - {"-o", "--output", "--json"} <= {
        o for p in cli.commands["make"].params for o in p.opts
    }


def test_make_cleaning_flags_reach_the_dataset_and_both_steps_are_recorded(tmp_path):
    # a base model that does not exist stops make at the train step, right after prepare
    res = CliRunner().invoke(
        cli, ["make", str(SAMPLE), "--drop-replies", "--base-model", str(tmp_path / "none")]
    )
    assert res.exit_code == 2 and "not a model folder" in res.stderr
    data = tmp_path / "workspace" / "odile_bakes" / "data"
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["options"]["drop_replies"] is True
    runs = {r.kind: r for r in tracking.list_runs()}
    assert runs["prepare"].status == "completed"
    assert runs["prepare"].lineage["dataset_hash"] == manifest["content_hash"]
    assert runs["train"].status == "failed"
    assert runs["train"].lineage["dataset_hash"] == manifest["content_hash"]  # the dataset used
