"""GGUF export: read back with gguf's reader, then run in a real llama.cpp runtime (xllamacpp)
against the Hugging Face model: f16 the same up to rounding, q8_0 close in top-1 and perplexity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from tests.ml.conftest import SEPARATOR, synthetic_posts, tiny_train_config, write_dataset
from tweettwin.cli import cli
from tweettwin.errors import ModelError
from tweettwin.publish.export import export_model

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.ml

PROMPTS = ["Today", "My dream is", "Honestly coffee", "Why is the", "Remember when bike", "Just"]


@pytest.fixture(scope="module")
def export_twin(tiny_model_dir, tmp_path_factory):
    """A tiny model folder written by `tweettwin train`, trained until its greedy posts vary
    (a barely trained one repeats one token, which would make a weak comparison)."""
    from tweettwin.ml.train import train

    tmp = tmp_path_factory.mktemp("export")
    write_dataset(tmp / "data", synthetic_posts())
    config = tiny_train_config(
        tiny_model_dir, learning_rate=1e-2, max_steps=300, early_stopping_patience=None
    )
    train(tmp / "data", tmp / "odile" / "model", config)
    return tmp / "odile" / "model"


@pytest.fixture(scope="module")
def hf(export_twin):
    model = transformers.AutoModelForCausalLM.from_pretrained(export_twin).eval()
    tok = transformers.AutoTokenizer.from_pretrained(export_twin)
    return model, tok


@pytest.fixture(scope="module")
def exported(export_twin, tmp_path_factory):
    out = tmp_path_factory.mktemp("gguf")
    return {q: export_model(export_twin, quant=q, output=out / f"t-{q}.gguf").path for q in
            ("f16", "bf16", "q8_0", "q4_0")}  # fmt: skip


def held_out_ids(tok, max_tokens: int = 240) -> list[int]:
    """Posts the twin never saw, as training lays them out: sep post sep post ... (within the
    tiny model's 256-token context)."""
    sep = tok.convert_tokens_to_ids(SEPARATOR)
    ids = [sep]
    for post in synthetic_posts(60, seed=99):
        ids += tok(post["text"], add_special_tokens=False).input_ids + [sep]
    return ids[:max_tokens]


def hf_logprobs(model, ids: list[int]) -> tuple[list[float], list[int], list[float]]:
    """log p(ids[i] | ids[:i]), the top-1 token and its lead over the second (in nats)."""
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)[:-1]
    top2 = logp.topk(2, dim=-1).values
    target = [logp[i - 1, ids[i]].item() for i in range(1, len(ids))]
    return target, logp.argmax(-1).tolist(), (top2[:, 0] - top2[:, 1]).tolist()


def hf_greedy(model, ids: list[int], n: int, stop: int) -> list[int]:
    """Greedy tokens up to (not including) ``stop`` or ``n`` tokens."""
    with torch.no_grad():
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=stop,
            pad_token_id=stop,
        )[0, len(ids) :].tolist()  # fmt: skip
    return out[: out.index(stop)] if stop in out else out


def _field(reader, key):
    return reader.fields[key].contents()


# ---------------------------------------------------------------------------- read back


def test_metadata_reads_back(exported, export_twin, hf):
    model, tok = hf
    reader = gguf.GGUFReader(exported["q8_0"])
    cfg = model.config
    sep = tok.convert_tokens_to_ids(SEPARATOR)
    assert _field(reader, "general.architecture") == "llama"
    assert _field(reader, "general.name") == "odile"
    assert _field(reader, "llama.block_count") == cfg.num_hidden_layers
    assert _field(reader, "llama.embedding_length") == cfg.hidden_size
    assert _field(reader, "llama.attention.head_count") == cfg.num_attention_heads
    assert _field(reader, "llama.attention.head_count_kv") == cfg.num_key_value_heads
    assert _field(reader, "llama.context_length") == cfg.max_position_embeddings
    assert _field(reader, "general.file_type") == gguf.LlamaFileType.MOSTLY_Q8_0
    assert _field(reader, "tokenizer.ggml.model") == "gpt2"
    assert _field(reader, "tokenizer.ggml.pre") == "gpt-2"
    assert _field(reader, "tokenizer.ggml.tokens") == tok.convert_ids_to_tokens(range(len(tok)))
    assert len(_field(reader, "tokenizer.ggml.merges")) > 100
    assert _field(reader, "tokenizer.ggml.bos_token_id") == sep
    assert _field(reader, "tokenizer.ggml.eos_token_id") == sep
    assert _field(reader, "tokenizer.ggml.add_bos_token") is True
    gen = model.generation_config
    assert _field(reader, "general.sampling.temp") == pytest.approx(gen.temperature)
    assert _field(reader, "general.sampling.top_p") == pytest.approx(gen.top_p)
    assert _field(reader, "general.sampling.top_k") == gen.top_k
    assert _field(reader, "general.sampling.min_p") == pytest.approx(gen.min_p or 0.0)


def test_tensor_shapes_types_and_qk_permutation(exported, hf):
    model, _ = hf
    cfg = model.config
    by_quant = {q: {t.name: t for t in gguf.GGUFReader(p).tensors} for q, p in exported.items()}
    f16 = by_quant["f16"]
    assert len(f16) == 2 + 9 * cfg.num_hidden_layers  # tied embeddings: no output.weight
    assert list(f16["token_embd.weight"].shape) == [cfg.hidden_size, cfg.vocab_size]
    kv_rows = cfg.num_key_value_heads * cfg.hidden_size // cfg.num_attention_heads
    assert list(f16["blk.0.attn_k.weight"].shape) == [cfg.hidden_size, kv_rows]
    assert list(f16["blk.1.ffn_down.weight"].shape) == [cfg.intermediate_size, cfg.hidden_size]
    for quant, want in (("q8_0", "Q8_0"), ("q4_0", "Q4_0"), ("bf16", "BF16"), ("f16", "F16")):
        assert by_quant[quant]["blk.0.attn_q.weight"].tensor_type.name == want
        assert by_quant[quant]["blk.0.attn_norm.weight"].tensor_type.name == "F32"
    # tied: the embedding is also the output layer, spared a step
    assert by_quant["q8_0"]["token_embd.weight"].tensor_type.name == "F16"
    assert by_quant["q4_0"]["token_embd.weight"].tensor_type.name == "Q8_0"
    # q/k are stored in llama.cpp's interleaved-rope row order, v as is
    layer = model.model.layers[0].self_attn
    q_hf = layer.q_proj.weight.detach().numpy()
    q_gguf = np.asarray(f16["blk.0.attn_q.weight"].data, dtype=np.float32)
    heads, half = cfg.num_attention_heads, q_hf.shape[0] // cfg.num_attention_heads // 2
    order = np.arange(q_hf.shape[0]).reshape(heads, 2, half).swapaxes(1, 2).reshape(-1)
    np.testing.assert_allclose(q_gguf, q_hf[order], atol=2e-3)
    assert not np.allclose(q_gguf, q_hf, atol=2e-3)
    v_gguf = np.asarray(f16["blk.0.attn_v.weight"].data, dtype=np.float32)
    np.testing.assert_allclose(v_gguf, layer.v_proj.weight.detach().numpy(), atol=2e-3)


def test_sizes_shrink_with_the_quant(exported):
    size = {q: p.stat().st_size for q, p in exported.items()}
    assert size["f16"] == pytest.approx(size["bf16"], rel=0.01)
    assert size["q4_0"] < size["q8_0"] < size["f16"]


# ---------------------------------------------------------------------------- llama.cpp


@pytest.fixture(scope="module")
def runtime():
    from tests.ml.llama_runtime import LlamaCpp

    return LlamaCpp


@pytest.fixture(scope="module")
def hf16(export_twin):
    """The HF model with its weights rounded to f16: exactly what an f16 GGUF holds, so greedy
    decoding is compared on the same weights (a near-tie must not flip on rounding alone; how
    near the ties are depends on the CPU's training precision)."""
    model = transformers.AutoModelForCausalLM.from_pretrained(export_twin).eval()
    model.to(torch.float16).to(torch.float32)
    return model, transformers.AutoTokenizer.from_pretrained(export_twin)


def test_f16_greedy_tokens_identical_to_hf(exported, hf16, runtime):
    model, tok = hf16
    sep = tok.convert_tokens_to_ids(SEPARATOR)
    llama = runtime(exported["f16"])
    compared, wanted = [], 0
    for prompt in PROMPTS:
        head = tok(prompt, add_special_tokens=False).input_ids
        want = hf_greedy(model, [sep, *head], 40, sep)
        # text in: llama.cpp tokenizes it and prepends the separator (bos) itself
        got, _ = llama.greedy(prompt, 40)
        # identical up to the first near tie: llama.cpp rounds activations and the KV cache to
        # f16, so where HF's top two are within 0.15 nat it may take the other one (seen on an
        # AMX Xeon: 29 tokens identical, then a 0.097-nat tie); after that the texts differ
        # where one stopped (chose the separator) first, that is where they differ
        pairs = enumerate(zip([*got, sep], [*want, sep], strict=False))
        same = next((i for i, (a, b) in pairs if a != b), None)
        if same is not None:
            chose = [*want, sep]  # HF's pick at each position, the closing separator included
            lead = hf_logprobs(model, [sep, *head, *chose[: same + 1]])[2][-1]
            print(f"{prompt!r}: differs at {same}, HF's lead {lead:.4f} nat")
            assert lead < 0.15, (prompt, same, lead)
        compared += want[:same]
        wanted += len(want)
    # not one token over and over, so the agreement means something (a tiny model's greedy text
    # loops over a few words; how many depends on the CPU's rounding during training)
    assert len(set(compared)) >= 3
    assert len(compared) >= wanted // 2  # ties are rare: most of the text is compared
    # teacher-forced over held-out posts: the same log-probabilities up to f16 rounding (an
    # export that mixed up a tensor is off by nats), and the same next token but at near ties.
    # llama.cpp rounds activations and the KV cache to f16 too, which grows late in a long
    # context: on an AMX Xeon with the twin trained in fp32, median 0.0001 nat, mean 0.007, but
    # 0.34 at worst near position 200, where it took HF's second choice at leads up to 0.28 nat
    ids = held_out_ids(tok)
    ref_logp, ref_top1, lead = hf_logprobs(model, ids)
    scores = llama.score(ids)
    off = np.abs(np.array(scores.logprobs) - np.array(ref_logp))
    assert np.median(off) < 0.002 and off.mean() < 0.02, (np.median(off), off.mean())
    differ = [i for i, (a, b) in enumerate(zip(scores.top1, ref_top1, strict=True)) if a != b]
    assert all(lead[i] < 0.5 for i in differ), [(i, lead[i]) for i in differ]
    assert len(differ) <= len(ids) // 30


def test_q8_0_agrees_with_hf_on_held_out_posts(exported, hf, runtime):
    model, tok = hf
    ids = held_out_ids(tok)
    ref_logp, ref_top1, lead = hf_logprobs(model, ids)
    scores = runtime(exported["q8_0"]).score(ids)
    same = np.array(scores.top1) == np.array(ref_top1)
    # The synthetic posts draw each word at random from 30, so at most positions the twin's top
    # two words are all but tied and any rounding may pick either; where HF's top-1 leads, the
    # runtime must agree.
    decided = np.array(lead) >= 0.1
    ppl_hf = math.exp(-np.mean(ref_logp))
    ppl_q8 = math.exp(-np.mean(scores.logprobs))
    print(
        f"q8_0: top-1 agreement {same.mean():.3f} (where HF leads by >= 0.1 nat: "
        f"{same[decided].mean():.3f} of {decided.sum()}), ppl {ppl_q8:.3f} vs HF {ppl_hf:.3f}"
    )
    # enough decided positions for the agreement to mean something: how many depends on how the
    # tiny twin trained (42 of 240 with fp32 forced on an AMX Xeon, with blocks aligned to posts)
    assert len(ids) == 240 and decided.sum() >= 25
    assert same.mean() >= 0.95
    assert same[decided].mean() >= 0.98
    assert abs(ppl_q8 / ppl_hf - 1) <= 0.02


def test_q4_0_runs_and_stays_close(exported, hf, runtime):
    """q4_0 is lossy by design; it must still load, and not be far off (a loose bound)."""
    model, tok = hf
    ids = held_out_ids(tok, 120)
    ref_logp, _, _ = hf_logprobs(model, ids)
    scores = runtime(exported["q4_0"]).score(ids)
    ratio = math.exp(-np.mean(scores.logprobs)) / math.exp(-np.mean(ref_logp))
    print(f"q4_0: ppl ratio to HF {ratio:.3f}")
    assert 0.8 < ratio < 1.25


# ---------------------------------------------------------------------------- errors, CLI


def test_unsupported_architecture_names_the_supported_ones(tmp_path):
    cfg = transformers.GPT2Config(vocab_size=64, n_embd=32, n_layer=1, n_head=2)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(tmp_path / "gpt2")
    with pytest.raises(ModelError, match="GPT2LMHeadModel.*supported: LlamaForCausalLM"):
        export_model(tmp_path / "gpt2")
    assert not list((tmp_path / "gpt2").glob("*.gguf"))


def test_failed_write_leaves_no_partial_file_and_keeps_the_old(export_twin, tmp_path, monkeypatch):
    from tweettwin.ml import gguf_export

    out = tmp_path / "twin.gguf"
    out.write_bytes(b"finished earlier")

    def broken(*args, **kwargs):
        yield from []
        raise OSError("disk full")

    monkeypatch.setattr(gguf_export, "gguf_tensors", broken)
    with pytest.raises(OSError, match="disk full"):
        export_model(export_twin, output=out, overwrite=True)
    assert out.read_bytes() == b"finished earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["twin.gguf"]


def test_cli_writes_gguf_and_modelfile_then_refuses_to_overwrite(export_twin, tmp_path):
    out = tmp_path / "o" / "me.gguf"
    args = ["export", str(export_twin), "--quant", "q4_0", "-o", str(out), "--ollama"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "ollama create odile -f" in result.stderr
    modelfile = (out.parent / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./me.gguf\n")
    assert f'PARAMETER stop "{SEPARATOR}"' in modelfile
    assert gguf.GGUFReader(out).fields["general.file_type"].contents() == 2  # MOSTLY_Q4_0
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2
    assert again.stderr.startswith("Error: ") and "--overwrite" in again.stderr
    assert CliRunner().invoke(cli, [*args, "--overwrite"]).exit_code == 0


# ---------------------------------------------------------------------------- embedded model


@pytest.mark.slow
def test_embedded_model_f16_greedy_identical_to_hf(tmp_path, runtime):
    from tweettwin.ml.embedded import embedded_dir

    folder = embedded_dir()
    path = export_model(folder, quant="f16", output=tmp_path / "smol-f16.gguf").path
    reader = gguf.GGUFReader(path)
    assert _field(reader, "tokenizer.ggml.pre") == "smollm"  # reused from the embedded GGUF
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    sep = _field(reader, "tokenizer.ggml.bos_token_id")
    assert sep == tok.convert_tokens_to_ids(tok.eos_token)
    llama = runtime(path)
    # an instruct model: a chat turn makes it write at length before its end token
    for question in ["How do I bake bread?", "Write a short post about rain."]:
        prompt = f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
        want = hf_greedy(model, [sep, *tok(prompt, add_special_tokens=False).input_ids], 48, sep)
        got, _ = llama.greedy(prompt, 48)
        assert len(want) == 48 and got == want, question


HELD_OUT = (
    "Sunday bake: the sourdough finally rose the way it should. Long cold proof in the fridge, "
    "a very hot oven, and steam for the first twenty minutes. The crust sang when it came out. "
    "Next week I want to try a rye loaf with caraway seeds, and maybe a focaccia for the street "
    "party if the weather holds. Honestly, nothing beats the smell of bread on a rainy morning. "
    "Took the bike along the river after lunch; the path was flooded near the old mill, so I "
    "walked it through the mud and met a heron standing perfectly still in the reeds. Back home "
    "the cat had claimed the warm spot by the oven again. Tea, a book about the history of the "
    "city's bakeries, and the last slice of yesterday's cake. Tomorrow is a work day: a bug in "
    "the deploy script has been haunting us since Friday, and I promised the team a fix before "
    "the weekly meeting. Wish me luck, and tell me your favourite bread so I know what to bake."
)


@pytest.mark.slow
def test_embedded_model_q8_0_top1_and_perplexity_close_to_hf(tmp_path, runtime):
    from tweettwin.ml.embedded import embedded_dir

    folder = embedded_dir()
    path = export_model(folder, quant="q8_0", output=tmp_path / "smol-q8_0.gguf").path
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    sep = _field(gguf.GGUFReader(path), "tokenizer.ggml.bos_token_id")
    ids = [sep, *tok(HELD_OUT, add_special_tokens=False).input_ids]
    ref_logp, ref_top1, _ = hf_logprobs(model, ids)
    scores = runtime(path).score(ids)
    agree = np.mean(np.array(scores.top1) == np.array(ref_top1))
    ratio = math.exp(-np.mean(scores.logprobs)) / math.exp(-np.mean(ref_logp))
    print(f"embedded q8_0: top-1 agreement {agree:.3f}, ppl ratio to HF {ratio:.4f}")
    assert len(ids) > 200
    assert agree >= 0.95
    assert abs(ratio - 1) <= 0.02


def test_tensor_types_per_quant():
    from tweettwin.ml.gguf_export import Q, tensor_qtype

    assert tensor_qtype("blk.0.attn_norm.weight", (64,), "q4_0") == Q.F32
    assert tensor_qtype("blk.0.attn_q.weight", (64, 64), "q4_0") == Q.Q4_0
    assert tensor_qtype("blk.0.attn_q.weight", (64, 48), "q8_0") == Q.F16  # 48: no 32-blocks
    assert tensor_qtype("token_embd.weight", (409, 64), "q8_0", tied=False) == Q.Q8_0
    assert tensor_qtype("token_embd.weight", (409, 64), "q8_0", tied=True) == Q.F16
    assert tensor_qtype("output.weight", (409, 64), "q4_0") == Q.Q8_0
