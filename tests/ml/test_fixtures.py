"""The offline tiny model really is a working causal LM with the post separator as EOS."""

from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.ml.conftest import SEPARATOR


def test_tiny_model_loads_and_generates(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert tok.eos_token == SEPARATOR
    ids = tok("My dream is", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.eos_token_id)
    assert out.shape[1] > ids.shape[1]
