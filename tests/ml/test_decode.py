"""Decoding paths and the generation contract on a real tiny model: fp16 weights against the
exact path, no bf16 matmul where bf16 measured slow, one Twin shared by threads, streaming,
batches, and prompts longer than the context."""

from __future__ import annotations

import threading

import pytest

from tests.ml import test_precision
from tests.ml.test_generate import gpt2_folder
from tests.ml.test_precision import AMX, AVX2
from tweettwin.errors import ConfigError
from tweettwin.generate_options import GenerateOptions, PostEvent, TokenEvent
from tweettwin.ml import sampler as sampler_mod
from tweettwin.ml.linear import fp16_available, make_linear
from tweettwin.ml.sampler import LeanLlama, SamplingOptions
from tweettwin.ml.twin import Twin

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.ml

fake_machine = test_precision.fake_machine  # the fixture: faked dtype measurements
PROBE = "Today coffee morning rain bike code friday weekend sunset tea book"


@pytest.fixture(scope="session")
def twin(twin_dir):
    return Twin.load(twin_dir)


@pytest.fixture(scope="session")
def exact(twin_dir):
    return Twin.load(twin_dir, precision="fp32", quantize=False)


# ------------------------------------------------------------------------------- fp16 weights


@pytest.mark.skipif(not fp16_available(), reason="fbgemm fp16-weight matmuls need an x86 CPU")
def test_fp16_weight_logits_and_greedy_posts_match_the_exact_path(twin_dir, exact):
    """Stated tolerance on the tiny model: logits within 0.2% of their range (fp16 keeps 11
    significant bits of each weight; activations and sums stay fp32), the next-token argmax
    equal at every position, and greedy posts the same."""
    fast = Twin.load(twin_dir, precision="fp32", quantize=True)
    assert fast.sampler.lean.layout == "fp16" and exact.sampler.lean.layout == "dense"
    ids = [exact.sep_id, *exact.tokenizer(PROBE, add_special_tokens=False).input_ids]
    ref = exact.sampler.lean.forward_logits(ids)
    got = fast.sampler.lean.forward_logits(ids)
    spread = (ref.max(-1).values - ref.min(-1).values).unsqueeze(-1)
    assert ((got - ref).abs() / spread).max() < 2e-3
    assert torch.equal(got.argmax(-1), ref.argmax(-1))
    for prompt in ("Today", "My dream is", "Honestly"):
        opts = GenerateOptions(n=1, temperature=0, novelty=False)
        assert fast.generate(prompt, opts).posts == exact.generate(prompt, opts).posts


@pytest.mark.skipif(not fp16_available(), reason="fbgemm fp16-weight matmuls need an x86 CPU")
def test_fp16_weights_are_the_default_where_the_compute_is_fp32(fake_machine, twin_dir):
    fake_machine(AVX2)
    assert Twin.load(twin_dir).sampler.path == "lean-llama/fp16/float32"
    assert Twin.load(twin_dir, quantize=False).sampler.path == "lean-llama/dense/float32"
    fake_machine(AMX, key="machine-b")  # native bf16: packed bf16 weights at least as fast
    assert Twin.load(twin_dir).sampler.lean.dtype == torch.bfloat16


def test_quantize_names_the_choices(twin_dir):
    with pytest.raises(ConfigError, match="quantize must be one of auto, fp16, exact"):
        Twin.load(twin_dir, quantize="int8")


def test_exact_lean_logits_match_transformers_with_folded_norms(twin_dir, exact):
    model = transformers.AutoModelForCausalLM.from_pretrained(twin_dir).eval()
    ids = [exact.sep_id, *exact.tokenizer(PROBE, add_special_tokens=False).input_ids]
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0]
    torch.testing.assert_close(LeanLlama(model, torch.float32).forward_logits(ids), ref,
                               atol=1e-4, rtol=1e-4)  # fmt: skip


def _lean(model, monkeypatch, threads: int, vocab=None) -> tuple[LeanLlama, list]:
    """A LeanLlama on fp16 weights (or exact where fbgemm is missing), packed on ``threads``
    threads; the list records every matrix packed (rows x columns), as packed."""
    packed = []
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    monkeypatch.setattr(
        sampler_mod, "make_linear", lambda w, *a: packed.append(w.shape) or make_linear(w, *a)
    )
    return LeanLlama(model, torch.float32, quantize=fp16_available(), vocab=vocab), packed


def test_weights_packed_side_by_side_give_the_same_logits(twin_dir, exact, monkeypatch):
    model = transformers.AutoModelForCausalLM.from_pretrained(twin_dir).eval()
    ids = [exact.sep_id, *exact.tokenizer(PROBE, add_special_tokens=False).input_ids]
    one, packed_one = _lean(model, monkeypatch, 1)
    two, packed_two = _lean(model, monkeypatch, 2)
    assert sorted(packed_one) == sorted(packed_two) and len(packed_one) == 1 + 4 * len(one.layers)
    assert torch.equal(one.forward_logits(ids), two.forward_logits(ids))


def test_the_whole_vocabulary_head_is_packed_only_when_a_call_needs_it(
    twin_dir, exact, monkeypatch
):
    """A twin sampling among its posts' word pieces skips packing the full LM head at load (the
    largest matrix: 28M of SmolLM2's 135M weights); a call over the whole vocabulary packs it
    once and gets the same logits as a head packed up front."""
    model = transformers.AutoModelForCausalLM.from_pretrained(twin_dir).eval()
    ids = [exact.sep_id, *exact.tokenizer(PROBE, add_special_tokens=False).input_ids]
    vocab = torch.arange(0, model.config.vocab_size, 3)
    up_front, _ = _lean(model, monkeypatch, 2)
    lean, packed = _lean(model, monkeypatch, 2, vocab=vocab)  # records from here on
    full_rows = model.config.vocab_size
    assert [rows for rows, _ in packed].count(len(vocab)) == 1
    assert full_rows not in [rows for rows, _ in packed]
    logits, _ = lean.prefill(ids, 1, len(ids), posts_vocab=True)
    assert full_rows not in [rows for rows, _ in packed]  # the vocab head served the call
    assert torch.equal(lean.forward_logits(ids), up_front.forward_logits(ids))
    # the same rows of the same weights (packed as another shape, prefilled: sums reordered)
    torch.testing.assert_close(
        logits, up_front.forward_logits(ids)[-1, vocab], atol=1e-4, rtol=1e-4
    )
    lean.forward_logits(ids)
    assert [rows for rows, _ in packed].count(full_rows) == 1  # packed once, then kept


# ---------------------------------------------------------------------- bf16 only where fast


class _MatmulDtypes(torch.utils._python_dispatch.TorchDispatchMode):
    """Records the dtypes that every matmul-like op ran on."""

    MATMUL = ("mm", "addmm", "bmm", "matmul", "linear", "_linear_pointwise", "linear_dynamic_fp16")

    def __init__(self):
        super().__init__()
        self.seen = set()
        self.ops = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split(".")[0]
        if name in self.MATMUL:
            self.ops.add(name)
            self.seen |= {a.dtype for a in args if isinstance(a, torch.Tensor)}
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("quantize", [False, None])
def test_no_bf16_matmul_where_bf16_measured_slow(fake_machine, twin_dir, quantize):
    fake_machine(AVX2)
    twin = Twin.load(twin_dir, quantize=quantize)
    with _MatmulDtypes() as mode:
        twin.generate("Today", n=3, seed=0, max_new_tokens=8)
    assert mode.seen and torch.bfloat16 not in mode.seen
    # the default there is the fp16-weight path: its matmuls are seen, and take fp32
    assert ("linear_dynamic_fp16" in mode.ops) == (quantize is None and fp16_available())


def test_bf16_matmuls_where_bf16_measured_fast(fake_machine, twin_dir):
    fake_machine(AMX)
    twin = Twin.load(twin_dir, quantize=False)
    with _MatmulDtypes() as mode:
        twin.generate("Today", n=3, seed=0, max_new_tokens=8)
    assert torch.bfloat16 in mode.seen


# --------------------------------------------------------------------------- shared by threads


def test_two_threads_share_one_twin_with_reproducible_results(twin_dir):
    twin = Twin.load(twin_dir)
    seeds = (3, 4)
    alone = {s: twin.generate("My dream is", n=6, seed=s, max_new_tokens=24).posts for s in seeds}
    assert alone[3] != alone[4] and all(len(p) == 6 for p in alone.values())
    for _ in range(3):
        got, start = {}, threading.Barrier(len(seeds))

        def work(seed, got=got, start=start):
            start.wait()
            got[seed] = twin.generate("My dream is", n=6, seed=seed, max_new_tokens=24).posts

        threads = [threading.Thread(target=work, args=(s,)) for s in seeds]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert got == alone


def test_no_global_seeding_anywhere(twin_dir, tmp_path, monkeypatch):
    def forbidden(*_):
        raise AssertionError("torch.manual_seed called: global RNG state shared by callers")

    monkeypatch.setattr(torch, "manual_seed", forbidden)
    lean, hf = Twin.load(twin_dir), Twin.load(gpt2_folder(twin_dir, tmp_path))
    for twin in (lean, hf):
        a = twin.generate("Today", n=3, seed=9, novelty=False, max_new_tokens=8).posts
        assert a == twin.generate("Today", n=3, seed=9, novelty=False, max_new_tokens=8).posts


# ------------------------------------------------------------------------------------ stream


def test_stream_yields_text_as_decoded_and_the_same_posts_as_generate(twin):
    events = list(twin.stream("Today", n=5, seed=7))
    posts = [e for e in events if isinstance(e, PostEvent)]
    assert [p.text for p in posts if p.kept] == twin.generate("Today", n=5, seed=7).posts
    for post in posts:
        deltas = [e.text for e in events if isinstance(e, TokenEvent) and e.sample == post.sample]
        assert len(deltas) > 1  # text arrives token by token, before the post ends
        assert "Today" + "".join(deltas) == post.text
        first = next(i for i, e in enumerate(events) if e.sample == post.sample)
        assert first < events.index(post)


def test_bad_stream_requests_fail_at_the_call(twin):
    with pytest.raises(ConfigError, match="temperature must be a finite number"):
        twin.stream("Today", temperature=float("nan"))


# -------------------------------------------------------------------------- batches, context


def test_many_samples_are_drawn_in_bounded_batches(twin, monkeypatch):
    rows = []
    prefill = LeanLlama.prefill

    def spy(self, ids, batch, capacity, **kw):
        rows.append(batch)
        return prefill(self, ids, batch, capacity, **kw)

    monkeypatch.setattr(LeanLlama, "prefill", spy)
    monkeypatch.setattr(sampler_mod, "MAX_BATCH", 8)
    result = twin.generate("Today", n=30, seed=1, max_new_tokens=6, novelty=False)
    assert len(result.posts) == 30
    assert max(rows) <= 8 and sum(rows) >= 30


def test_a_prompt_longer_than_the_context_is_a_clear_error(twin):
    context = twin.model.config.max_position_embeddings
    long = " ".join(["coffee"] * context)
    message = rf"the prompt is \d+ tokens; this model reads {context}, so at most {context - 2}"
    with pytest.raises(ConfigError, match=message):
        twin.generate(long, n=2)
    # a prompt that leaves a little room samples short posts instead of failing
    words = context
    while (
        used := 1
        + len(twin.tokenizer(" ".join(["coffee"] * words), add_special_tokens=False).input_ids)
    ) > context - 5:
        words -= 1
    fits = " ".join(["coffee"] * words)
    result = twin.generate(fits, n=2, seed=0, novelty=False, max_new_tokens=100)
    assert result.settings["max_new_tokens"] == context - used and result.sampled >= 2


def test_sampling_options_defaults_are_the_shared_ones():
    from tweettwin.generate_options import SAMPLING_DEFAULTS

    assert SamplingOptions().__dict__ == SAMPLING_DEFAULTS
