"""The offline tiny model really is a working causal LM with the post separator as EOS."""

import math

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.ml.conftest import SEPARATOR


def test_tiny_model_loads_and_generates(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert tok.eos_token == SEPARATOR
    assert model.generation_config.eos_token_id == tok.eos_token_id == tok.bos_token_id
    text = "My dream is coffee ☕"
    ids = tok(text, return_tensors="pt").input_ids
    assert tok.decode(ids[0]) == text  # byte-level BPE round-trips emoji
    with torch.no_grad():
        out = model(ids, labels=ids)
    assert out.logits.shape == (1, ids.shape[1], len(tok))
    # an untrained model is near-uniform: its loss is close to ln(vocab), not nan or 0
    assert abs(out.loss.item() - math.log(len(tok))) < 1.0
