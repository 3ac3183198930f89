"""`tweettwin eval` on a tiny model folder: the JSON keys, eval.json, report, card, the eval run,
held-out loss scored as training scores it, and bad input as one Error line with exit 2."""

from __future__ import annotations

import json
import shutil
from unittest import mock

import pytest
from click.testing import CliRunner

from tests.ml.conftest import synthetic_posts, tiny_train_config, write_dataset
from tweettwin.cli import cli

pytest.importorskip("sklearn")
pytestmark = pytest.mark.ml

TOP_LEVEL = (
    "perplexity",
    "base_perplexity",
    "frechet_distance",
    "kernel_distance",
    "classifier_auc",
    "copy_rate",
    "copy_rate_unguarded",
    "distinct_2",
    "self_bleu",
    "samples",
    "seconds",
)


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir, tmp_path_factory):
    from tweettwin.ml.train import train
    from tweettwin.publish.card import write_card

    tmp = tmp_path_factory.mktemp("eval")
    write_dataset(tmp / "data", synthetic_posts(), validation_every=8)  # 30 validation posts
    train(tmp / "data", tmp / "model", tiny_train_config(tiny_model_dir, epochs=2))
    write_card(tmp / "model")
    return tmp / "model"


@pytest.fixture(scope="module")
def evaluated(model_dir, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    args = [
        "--workspace",
        str(ws),
        "eval",
        str(model_dir),
        "--samples",
        "20",
        "--json",
        "--embedding",
        "wordllama",
        "--open",
    ]
    with mock.patch("click.launch") as launch:
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    launch.assert_called_once_with(str(model_dir / "report.html"))
    return json.loads(result.stdout), result.stderr, ws


def test_json_has_the_issue_keys(evaluated, model_dir):
    out, stderr, _ = evaluated
    assert set(TOP_LEVEL) <= set(out)
    for key in ("classifier_auc", "copy_rate", "copy_rate_unguarded", "distinct_2", "self_bleu"):
        assert 0 <= out[key] <= 1, key
    assert out["samples"] == 20 and out["validation_posts"] == 30
    assert out["perplexity"] < out["base_perplexity"]  # fine-tuning helped on held-out posts
    assert {"style", "distribution", "diversity", "memorization", "fit"} <= set(out)
    # sampled among the posts' word pieces (a small share of the tiny model's vocabulary)
    vocab_size = json.loads((model_dir / "config.json").read_text())["vocab_size"]
    assert 0 < out["model"]["sampling_vocab"] < vocab_size // 2
    assert "30 validation posts" in stderr  # fewer than stable: a warning naming the number
    # not a terminal: plain progress lines, one per stage and the finished sample count
    for line in ("eval: held-out loss", "eval: sampling", "eval: sampling 20/20", "eval: scoring"):
        assert line in stderr, stderr


def test_heldout_loss_is_the_training_loss(evaluated, model_dir):
    from tweettwin.model_folder import TrainingRecord

    record = TrainingRecord.read(model_dir)
    # eval scores in fp32; training scored under its own precision (bf16 autocast rounds more)
    tol = 2e-3 if record.precision == "fp32" else 2e-2
    assert evaluated[0]["loss"] == pytest.approx(record.metrics["best_val_loss"], abs=tol)
    assert evaluated[0]["base_loss"] == pytest.approx(record.metrics["base_val_loss"], abs=tol)


def test_files_card_and_run(evaluated, model_dir):
    from tweettwin.tracking import list_runs

    out, _, ws = evaluated
    assert json.loads((model_dir / "eval.json").read_text()) == out
    page = (model_dir / "report.html").read_text()
    assert "<svg" in page and "Classifier AUC" in page
    card = (model_dir / "README.md").read_text()
    assert "### Evaluation" in card and "roc_auc" in card and "copy_rate_unguarded" in card
    runs = [r for r in list_runs(workspace=ws) if r.kind == "eval"]
    assert len(runs) == 1 and runs[0].status == "completed"
    logged = set().union(*(m.keys() for m in runs[0].metrics()))
    assert {"classifier_auc", "perplexity"} <= logged, logged


def _fails(args, tmp_path) -> str:
    result = CliRunner().invoke(cli, ["--workspace", str(tmp_path / "ws"), "eval", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    return lines[0]


def test_not_a_model_folder(tmp_path):
    assert "model folder" in _fails([str(tmp_path)], tmp_path)


def test_dataset_that_no_longer_matches(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("eval.json", "report.html"))
    data = tmp_path / "data"
    write_dataset(data, synthetic_posts(200, seed=3), validation_every=5)
    record = json.loads((copy / "training.json").read_text())
    record["dataset"]["path"] = str(data)
    (copy / "training.json").write_text(json.dumps(record))
    assert "no longer matches" in _fails([str(copy)], tmp_path)
    assert not (copy / "eval.json").exists()


def test_given_dataset_that_differs_warns(model_dir, tmp_path):
    from tweettwin.evaluate.core import check_inputs

    data = tmp_path / "other"
    write_dataset(data, synthetic_posts(200, seed=3), validation_every=5)
    inputs = check_inputs(model_dir, data)
    assert len(inputs.validation) == 40
    assert any("not the dataset this model was trained on" in w for w in inputs.warnings)


def test_too_few_validation_posts(model_dir, tmp_path):
    data = tmp_path / "small"
    write_dataset(data, synthetic_posts(100), validation_every=10)
    line = _fails([str(model_dir), "--dataset", str(data)], tmp_path)
    assert "only 10 validation posts" in line


def test_guard_drops_copies_and_tops_up():
    from tweettwin.evaluate.model import _apply_guard
    from tweettwin.ml.novelty import NoveltyIndex

    train = [p["text"] for p in synthetic_posts(30, seed=9)]

    class Twin:  # what _apply_guard uses of a Twin: its guard and guarded generation
        novelty = NoveltyIndex.from_texts(train)

        def generate(self, prompt, n, *, seed, novelty, author):
            assert prompt is None and novelty is True
            return type("R", (), {"posts": [f"fresh post {i}" for i in range(n)]})()

    unguarded = train[:3] + ["a new one", "another new one"]
    kept, dropped = _apply_guard(Twin(), unguarded, 0, [None])
    assert dropped == 3
    assert kept == ["a new one", "another new one", "fresh post 0", "fresh post 1", "fresh post 2"]


def test_heldout_loss_does_not_depend_on_the_batching(model_dir):
    """Held-out posts are batched by length (little padding): the same loss as batches bounded by
    size alone, or as tiny ones."""
    from tweettwin.ml import evaluation as ev
    from tweettwin.ml.data import eval_batches, read_dataset

    validation = read_dataset(model_dir.parent / "data").validation
    model, tokenizer = ev.load_folder(model_dir)
    tight = ev.heldout_loss(model, tokenizer, validation)

    def batched(**how):
        return mock.patch.object(ev, "eval_batches", lambda p, s: eval_batches(p, s, **how))

    with batched(max_tokens=4096, spread=100.0):
        assert ev.heldout_loss(model, tokenizer, validation) == pytest.approx(tight, abs=1e-5)
    with batched(max_tokens=64):
        assert ev.heldout_loss(model, tokenizer, validation) == pytest.approx(tight, abs=1e-5)
