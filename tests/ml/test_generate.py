"""Generation: the lean sampler against transformers, Twin options, the novelty guard, the CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from tests.ml.conftest import SEPARATOR, synthetic_posts, train_tiny
from tweettwin.cli import cli
from tweettwin.errors import ConfigError, ModelError
from tweettwin.generate_options import PostEvent
from tweettwin.ml.sampler import LeanLlama, Runs, Sampler, SamplingOptions, supports_lean
from tweettwin.ml.twin import Twin, resample_size, tidy

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.ml

MEMORISED = [p["text"] for p in synthetic_posts(3, seed=5)]


@pytest.fixture(scope="session")
def memorised_dir(tiny_model_dir, tmp_path_factory):
    """A model that learnt three posts by heart: most of its samples are copies.

    How fast a tiny model memorises depends on the CPU's numeric path (bf16 autocast or fp32), so
    train until the model itself shows it has memorised (most unguarded samples are copies),
    with more steps each try, and fail here, not in the tests, if it never does.
    """
    posts = [dict(p, text=MEMORISED[i % 3]) for i, p in enumerate(synthetic_posts(90))]
    tmp = tmp_path_factory.mktemp("mem")
    for attempt, steps in enumerate((150, 300, 600)):
        folder = train_tiny(
            tiny_model_dir,
            tmp,
            posts,
            f"model{attempt}",
            learning_rate=1e-2,
            max_steps=steps,
            early_stopping_patience=None,
        )
        samples = Twin.load(folder).generate(n=20, seed=0, novelty=False).posts
        if sum(p in MEMORISED for p in samples) >= 10:
            return folder
    pytest.fail(f"the tiny model did not memorise its 3 posts in {steps} steps: {samples[:3]}")


@pytest.fixture(scope="session")
def twin(twin_dir):
    return Twin.load(twin_dir)


# ------------------------------------------------------------------------------ lean sampler


def test_lean_logits_match_transformers(tiny_model_dir):
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert supports_lean(model)
    ids = [0, 5, 17, 42, 99, 7, 250, 3]
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0]
    lean32 = LeanLlama(model, torch.float32).forward_logits(ids)
    torch.testing.assert_close(lean32, ref, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        ref16 = model.to(torch.bfloat16)(torch.tensor([ids])).logits[0].float()
    lean16 = LeanLlama(model, torch.bfloat16).forward_logits(ids)
    assert (lean16 - ref16).abs().max() < 0.1 * ref16.abs().max()
    assert (lean16.argmax(-1) == ref.argmax(-1)).float().mean() >= 0.75


def test_lean_greedy_equals_transformers_greedy(tiny_model_dir):
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    prompt = [0, 11, 12, 13]
    opts = SamplingOptions(temperature=0.0, max_new_tokens=24)
    lean = Sampler(model, dtype=torch.float32).sample(prompt, 3, opts, stop_ids=[0])
    hf = Sampler(model, lean=False).sample(prompt, 3, opts, stop_ids=[0])
    assert lean == hf
    with torch.no_grad():
        ref = model.generate(torch.tensor([prompt]), do_sample=False, max_new_tokens=24,
                             eos_token_id=0, pad_token_id=0)[0, len(prompt) :].tolist()  # fmt: skip
    assert lean[0] == ref[: ref.index(0)] if 0 in ref else lean[0] == ref
    assert lean[0] and all(0 not in ids for ids in lean)


def test_sampling_step_respects_top_k_and_top_p():
    from tweettwin.ml.sampler import pick_tokens

    logits = torch.tensor([[0.0, 3.0, 2.9, -5.0]] * 200)
    gen = torch.Generator().manual_seed(0)
    top1 = pick_tokens(logits, SamplingOptions(top_k=1, top_p=1.0), gen)
    assert set(top1.tolist()) == {1}
    top2 = pick_tokens(logits, SamplingOptions(top_k=2, top_p=1.0), gen)
    assert set(top2.tolist()) == {1, 2}
    nucleus = pick_tokens(logits, SamplingOptions(top_k=0, top_p=0.4), gen)
    assert set(nucleus.tolist()) == {1}
    hot = pick_tokens(logits, SamplingOptions(temperature=100.0, top_k=0, top_p=1.0), gen)
    assert set(hot.tolist()) == {0, 1, 2, 3}


def test_min_p_drops_tokens_under_its_share_of_the_likeliest_at_the_temperature():
    from tweettwin.ml.sampler import cut_min_p, pick_tokens

    # odds at T=1: 1 : e^-0.5 (0.61) : e^-2 (0.14) : e^-4 (0.018) of the likeliest
    logits = torch.tensor([[0.0, -0.5, -2.0, -4.0]] * 2000)
    gen = torch.Generator().manual_seed(0)

    def drawn(**opts):
        o = SamplingOptions(**opts)
        return set(pick_tokens(cut_min_p(logits, o), o, gen).tolist())

    assert drawn(min_p=0.0) == {0, 1, 2, 3}
    assert drawn(min_p=0.1) == {0, 1, 2}
    assert drawn(min_p=0.5) == {0, 1}
    # at T=2 the odds flatten (e^-2 -> e^-1 = 0.37): the same min-p keeps more
    assert drawn(min_p=0.3, temperature=2.0) == {0, 1, 2}
    assert drawn(min_p=0.3, temperature=1.0) == {0, 1}
    # greedy and min-p 0 leave the logits as they are
    assert cut_min_p(logits, SamplingOptions(min_p=0.5, temperature=0.0)) is logits


def test_min_p_keeps_the_posts_starts_as_given(twin):
    """A post's first token is drawn from the training posts' starts, rare ones included: min-p
    cuts the model's odds only."""
    assert twin.starts is not None and int(torch.isfinite(twin.starts).sum()) > 2

    def posts(**opts):
        return twin.generate(None, 24, seed=1, max_new_tokens=6, warm_up=0, **opts).posts

    def firsts(posts):
        return {p.split()[0] for p in posts if p.split()}

    loose, sharp = posts(), posts(min_p=0.999)
    assert len(firsts(sharp)) >= min(3, len(firsts(loose)))  # starts as varied as without
    # after the start, min-p 0.999 leaves the likeliest token: fewer different posts
    assert len(set(sharp)) < len(set(loose))


def test_inverse_cdf_draw_follows_the_distribution_and_skips_zeros():
    from tweettwin.ml.sampler import draw

    probs = torch.tensor([0.0, 0.5, 0.0, 0.3, 0.2, 0.0])
    rows = 4 * probs.expand(20000, -1)  # rows need not be normalised
    got = draw(rows, torch.Generator().manual_seed(0))
    freq = torch.bincount(got, minlength=6).double() / len(got)
    assert freq[probs == 0].sum() == 0  # never a zero-probability (banned) token
    assert (freq - probs.double()).abs().max() < 0.015  # 4+ standard errors at 20k draws
    peaked = torch.zeros(3, 49152)
    peaked[:, -1] = 1.0  # the last entry, where rounding of the running sum would land
    assert draw(peaked, None).tolist() == [49151] * 3
    with pytest.raises(RuntimeError, match="positive sum"):
        draw(torch.zeros(1, 4), None)


def test_draw_across_vocabulary_blocks_matches_the_distribution():
    from tweettwin.ml.sampler import DRAW_BLOCK, draw

    # mass at both ends of a block, in a ragged last block, and blocks that are all zeros
    V = 3 * DRAW_BLOCK + 17
    probs = torch.zeros(V, dtype=torch.float64)
    at = [0, DRAW_BLOCK - 1, DRAW_BLOCK, 3 * DRAW_BLOCK + 16]
    probs[at] = torch.tensor([0.1, 0.4, 0.2, 0.3], dtype=torch.float64)
    got = draw(probs.float().expand(20000, -1), torch.Generator().manual_seed(1))
    freq = torch.bincount(got, minlength=V).double() / len(got)
    assert set(got.unique().tolist()) == set(at)
    assert (freq - probs).abs().max() < 0.015
    tiny = torch.tensor([[0.0] * (DRAW_BLOCK + 5) + [1e-30]])  # the only nonzero entry
    assert draw(tiny, None).tolist() == [DRAW_BLOCK + 5]


def gpt2_folder(model_dir, tmp_path):
    """A tiny GPT-2 (not a Llama: no lean path) with the tiny model's tokenizer."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(model_dir)
    cfg = GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=128,
                     bos_token_id=0, eos_token_id=0)  # fmt: skip
    GPT2LMHeadModel(cfg).save_pretrained(tmp_path / "gpt2")
    tok.save_pretrained(tmp_path / "gpt2")
    return tmp_path / "gpt2"


def test_other_architectures_fall_back_to_a_forward_loop(tiny_model_dir, tmp_path):
    folder = gpt2_folder(tiny_model_dir, tmp_path)
    twin = Twin.load(folder)
    assert twin.sampler.path == "hf-forward"
    result = twin.generate("My dream is", n=3, seed=0, novelty=False, max_new_tokens=8)
    assert result.sampled >= 3 and all(p.startswith("My dream is") for p in result.posts)
    # greedy: the same tokens as transformers' own generate()
    prompt = [0, 11, 12, 13]
    greedy = SamplingOptions(temperature=0.0, max_new_tokens=12)
    ours = twin.sampler.sample(prompt, 2, greedy, stop_ids=[10**9])
    with torch.no_grad():
        ref = twin.model.generate(torch.tensor([prompt] * 2), do_sample=False, max_new_tokens=12,
                                  min_new_tokens=12, pad_token_id=0)  # fmt: skip
    assert ours == ref[:, len(prompt) :].tolist()


# ----------------------------------------------------------------------------------- Twin


def test_load_round_trip_uses_the_folder_settings(twin, twin_dir):
    training = json.loads((twin_dir / "training.json").read_text())
    gen = json.loads((twin_dir / "generation_config.json").read_text())
    assert twin.tokenizer.convert_ids_to_tokens(twin.sep_id) == training["separator"] == SEPARATOR
    assert twin.sampler.path.startswith("lean-llama/")
    assert twin.defaults == SamplingOptions(
        temperature=gen["temperature"],
        top_k=gen["top_k"],
        top_p=gen["top_p"],
        max_new_tokens=gen["max_new_tokens"],
        min_p=0.0,
    )
    assert "min_p" not in gen  # off: transformers' pipeline adds no min-p step either
    assert twin.novelty is not None


def test_n_posts_with_the_prompt_kept_and_no_special_tokens(twin):
    result = twin.generate("My dream is", n=7, seed=3)
    assert len(result.posts) == 7
    for post in result.posts:
        assert post.startswith("My dream is")
        assert "<|" not in post and "\n" not in post and post == post.strip()


def test_seed_makes_samples_reproducible(twin):
    a = twin.generate("Today", n=5, seed=11).posts
    assert a == twin.generate("Today", n=5, seed=11).posts
    assert a != twin.generate("Today", n=5, seed=12).posts


def test_greedy_top_k_1_and_tiny_top_p_agree(twin):
    # a prompt whose greedy continuation is not empty (an empty post is dropped, not compared)
    prompt, greedy = next(
        (p, posts)
        for p in ("Honestly", "Today", "My dream is", "Just")
        if (posts := twin.generate(p, n=3, temperature=0, novelty=False).posts)
    )
    assert len(greedy) == 3 and len(set(greedy)) == 1
    assert twin.generate(prompt, n=3, top_k=1, seed=1, novelty=False).posts == greedy
    assert twin.generate(prompt, n=3, top_k=0, top_p=1e-6, seed=2, novelty=False).posts == greedy
    sampled = twin.generate(prompt, n=6, temperature=1.5, top_k=0, top_p=1.0, seed=1).posts
    assert len(set(sampled)) > 1


def test_max_new_tokens_bounds_each_sample(twin):
    result = twin.generate("My dream is", n=4, max_new_tokens=2, seed=0, novelty=False)
    assert result.new_tokens <= 2 * result.sampled
    long = twin.generate("My dream is", n=4, max_new_tokens=60, seed=0, novelty=False)
    assert max(map(len, long.posts)) > max(map(len, result.posts))


def test_samples_end_at_the_separator(twin):
    ids = twin.tokenizer("Just", add_special_tokens=False).input_ids
    outs = twin.sampler.sample(
        [twin.sep_id, *ids], 8, SamplingOptions(max_new_tokens=60), twin.stop_ids, seed=0
    )
    assert all(twin.sep_id not in o for o in outs)
    assert any(len(o) < 60 for o in outs)  # the tiny model learnt to end its posts


def test_defaults_come_from_generation_config(twin_dir, tmp_path):
    folder = shutil.copytree(twin_dir, tmp_path / "copy")
    gen = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps(gen | {"max_new_tokens": 3}))
    result = Twin.load(folder).generate(n=4, seed=0, novelty=False)
    assert result.settings["max_new_tokens"] == 3 and result.new_tokens <= 3 * result.sampled


def test_whitespace_follows_the_training_data():
    assert tidy(" a \n\n b\tc  ", keep_newlines=False) == "a b c"
    assert tidy(" a  \n\n\n b\tc \n", keep_newlines=True) == "a\nb c"


def test_bad_options_are_clear_errors(twin, tmp_path):
    with pytest.raises(ConfigError, match="top_p"):
        twin.generate(n=1, top_p=0)
    with pytest.raises(ConfigError, match="n must be"):
        twin.generate(n=0)
    with pytest.raises(ConfigError, match="without author tags"):
        twin.generate(n=1, author="someone")
    with pytest.raises(ModelError, match="does not exist"):
        Twin.load(tmp_path / "nope")


def test_author_tags_write_as_the_chosen_author(tiny_model_dir, tmp_path):
    posts = synthetic_posts(120, author="ann") + synthetic_posts(120, seed=1, author="bob")
    twin = Twin.load(
        train_tiny(tiny_model_dir, tmp_path, posts, "tagged", max_steps=10, author_tags=True)
    )
    assert twin.authors == ["ann", "bob"]
    result = twin.generate("Today", n=4, author="@bob", seed=0)
    assert result.author == "bob"
    assert all(p.startswith("Today") and "@bob" not in p for p in result.posts)
    with pytest.raises(ConfigError, match="several authors"):
        twin.generate(n=1)
    with pytest.raises(ConfigError, match="not one of"):
        twin.generate(n=1, author="carol")


# --------------------------------------------------------------------------- novelty guard


def test_guard_drops_copies_of_training_posts(memorised_dir):
    twin = Twin.load(memorised_dir)
    free = twin.generate(n=10, seed=1, novelty=False)
    assert set(free.posts) & set(MEMORISED)  # the model does copy ...
    guarded = twin.generate(n=10, seed=1)
    assert guarded.rejected > 0  # ... and the guard catches it
    assert not set(guarded.posts) & set(MEMORISED)
    # hotter sampling strays from the memorised posts (whether it still hits one
    # depends on the CPU's rounding): whatever is kept is new
    hot = twin.generate(n=10, seed=1, temperature=2.0)
    assert len(hot.posts) == 10
    assert not any(twin.novelty.is_copy(p) for p in hot.posts)


def test_resampling_rounds_draw_for_the_share_of_samples_kept_so_far():
    assert resample_size(need=6, kept=4, judged=10) == 19  # 40% kept: 6 / 0.4 plus a quarter
    assert resample_size(need=1, kept=9, judged=10) == 2
    assert resample_size(need=3, kept=0, judged=0) == 3  # nothing judged yet: no rate to go by
    assert resample_size(need=10, kept=0, judged=32) == 250  # none kept: planned at 5%, bounded


def test_missing_index_asks_to_turn_the_guard_off(twin_dir, tmp_path):
    folder = shutil.copytree(twin_dir, tmp_path / "noindex")
    (folder / "novelty.json").unlink()
    twin = Twin.load(folder)
    with pytest.raises(ModelError, match="no-novelty-guard"):
        twin.generate(n=1)
    assert twin.generate(n=2, novelty=False, seed=0).sampled >= 2


# ------------------------------------------------------------------------------------- CLI


def test_cli_generate_json(memorised_dir):
    res = CliRunner().invoke(
        cli, ["generate", str(memorised_dir), "-n", "6", "--seed", "1", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"posts", "rejected", "seconds"} <= out.keys()
    assert out["rejected"] > 0 and isinstance(out["seconds"], float)
    assert not set(out["posts"]) & set(MEMORISED)
    assert out["settings"]["vocab"] == len(Twin.load(memorised_dir).sampler.vocab)
    # the same posts as the Python API with the same seed (so the list is checked, even if short)
    assert out["posts"] == Twin.load(memorised_dir).generate(n=6, seed=1).posts


def test_cli_generate_prints_the_python_api_posts(twin_dir):
    args = ["My dream is", "-n", "4", "--seed", "2", "--temperature", "0.8", "--top-k", "20"]
    res = CliRunner().invoke(cli, ["generate", str(twin_dir), *args])
    assert res.exit_code == 0, res.output
    posts = Twin.load(twin_dir).generate("My dream is", n=4, seed=2, temperature=0.8, top_k=20)
    assert len(posts.posts) == 4 and res.stdout.splitlines() == posts.posts
    assert "4 posts in" in res.stderr


def test_cli_generate_bad_folder_is_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["generate", str(tmp_path / "missing")])
    assert res.exit_code == 2
    assert res.stderr.startswith("Error:") and "Traceback" not in res.output


def test_whitespace_led_tokens_are_found_on_either_tokenizer_path(twin, monkeypatch):
    from tweettwin.ml import post_start

    fast = post_start.whitespace_led_ids(twin.tokenizer)  # byte-level: read from the strings
    texts = twin.tokenizer.batch_decode([[i] for i in range(len(twin.tokenizer))])
    assert fast and all(texts[i][:1].isspace() for i in fast)
    assert twin.sep_id not in fast
    monkeypatch.setattr(type(twin.tokenizer), "backend_tokenizer", property(lambda self: None))
    assert set(post_start.whitespace_led_ids(twin.tokenizer)) >= set(fast)  # the decoding path


@pytest.mark.parametrize("lean", [True, False])
def test_first_ban_keeps_a_sample_from_starting_with_a_banned_token(twin_dir, lean):
    twin = Twin.load(twin_dir, lean=lean)
    greedy = SamplingOptions(temperature=0.0, max_new_tokens=3)
    free = twin.sampler.sample([twin.sep_id], 2, greedy, twin.stop_ids)
    banned = [free[0][0]] if free[0] else [next(iter(twin.stop_ids))]
    steps = twin.sampler.stream([twin.sep_id], 2, greedy, twin.stop_ids, first_ban=banned)
    first = next(iter(steps))
    assert all(tok not in banned for _, tok, _ in first)


def split_at(tokens: list, sep: int) -> list[list]:
    """A row's tokens cut at each separator (the last part may be unfinished)."""
    parts: list[list] = [[]]
    for tok in tokens:
        parts.append([]) if tok == sep else parts[-1].append(tok)
    return parts


def test_unprompted_posts_never_start_mid_sentence(twin_dir, monkeypatch):
    """Unprompted, no post starts with a whitespace-led token (a fragment start): not the
    first of a row's run, nor any after a separator in it; after a prompt the ban is off,
    since the next word follows a space there."""
    from tweettwin.ml.post_start import whitespace_led_ids

    twin = Twin.load(twin_dir)
    ban = set(whitespace_led_ids(twin.tokenizer))
    rows, bans, stream = {}, [], twin.sampler.stream

    def recording(*args, **kwargs):
        bans.append(kwargs.get("first_ban"))
        for step in stream(*args, **kwargs):
            for row, tok, _ in step:
                rows.setdefault(row, []).append(tok)
            yield step

    monkeypatch.setattr(twin.sampler, "stream", recording)
    twin.generate(None, n=40, seed=3, temperature=2.0, novelty=False)
    posts = [p for toks in rows.values() for p in split_at(toks, twin.sep_id)]
    starts = {p[0] for p in posts if p and p[0] is not None}
    assert len(posts) > len(rows) and starts and not ban & starts
    assert set(bans[0]) == ban
    twin.generate("Today", n=4, seed=3, novelty=False)
    assert bans[-1] is None


def test_unprompted_posts_are_the_later_posts_of_each_rows_run(twin_dir):
    """A tweettwin model writes unprompted posts as runs ``S w S p S p ...`` (ml/chain.py):
    the warm-up post ``w`` is dropped, the later ones are the samples."""
    from dataclasses import replace

    twin = Twin.load(twin_dir)
    assert twin.warm_up == 1
    opts = twin.options(temperature=1.0)
    cap = opts.max_new_tokens
    generator = torch.Generator()
    generator.manual_seed(11)
    steps = twin.sampler.stream(
        [twin.sep_id], 3, replace(opts, max_new_tokens=2 * (cap + 1)),
        twin.stop_ids - {twin.sep_id}, generator=generator, first_ban=twin._first_ban([]),
        runs=Runs(twin.sep_id, warm_up=1, max_post=cap), posts_vocab=True, starts=twin.starts,
    )  # fmt: skip
    runs: dict[int, list[int | None]] = {}
    for step in steps:
        for row, tok, _ in step:
            runs.setdefault(row, []).append(tok)
    # each row: a warm-up of at most `cap` tokens, the separator, a post of at most `cap`
    # tokens, then None (its last separator ends the row); a longer warm-up ends the row
    later = []
    for toks in runs.values():
        warm, *post = split_at(toks, twin.sep_id)
        assert (len(warm) <= cap and post) or (len(warm) == cap + 1 and warm[-1] is None)
        if post:
            assert len(post[0]) <= cap + 1 and post[0][-1] is None
            later.append(post[0][:-1])
    expected = [twin._text(ids, None) for ids in later]
    events = twin.stream(None, n=3, seed=11, temperature=1.0, novelty=False)
    # the first round's posts (an empty one is made up in a second round)
    got = [e.text for e in events if isinstance(e, PostEvent) and e.kept and e.sample < 3]
    assert got and sorted(got) == sorted(t for t in expected if t)
    twin.warm_up = 0  # each post from a lone separator, as before
    alone = twin.generate(None, n=3, seed=11, temperature=1.0, novelty=False).posts
    assert alone[: len(got)] != got


def test_warm_up_option_from_the_cli_and_python(twin_dir):
    """`--warm-up 0` samples each unprompted post from a lone separator (as twin.warm_up = 0
    does); the default writes them after a warm-up post; a bad value is one line, exit 2."""
    twin = Twin.load(twin_dir)
    runs = twin.generate(None, n=4, seed=5, novelty=False).posts
    alone = twin.generate(None, n=4, seed=5, novelty=False, warm_up=0).posts
    assert runs != alone
    res = CliRunner().invoke(
        cli, ["generate", str(twin_dir), "-n", "4", "--seed", "5", "--warm-up", "0",
              "--no-novelty-guard"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == alone
    twin.warm_up = 0
    assert twin.generate(None, n=4, seed=5, novelty=False).posts == alone
    bad = CliRunner().invoke(cli, ["generate", str(twin_dir), "--warm-up", "9"])
    assert bad.exit_code == 2 and "warm_up" in bad.output and "Traceback" not in bad.output


# ------------------------------------------------------------------------ how the posts start


def first_tokens(twin, texts) -> list[int]:
    return [twin.tokenizer(t, add_special_tokens=False).input_ids[0] for t in texts]


def test_training_keeps_how_the_posts_start(twin, twin_dir):
    from collections import Counter

    from tweettwin.ml.post_start import FILE, read_post_starts

    train = [p["text"] for i, p in enumerate(synthetic_posts()) if i % 10]  # write_dataset's split
    assert read_post_starts(twin_dir, len(twin.tokenizer)) == Counter(first_tokens(twin, train))
    saved = json.loads((twin_dir / FILE).read_text())
    assert all(isinstance(v, int) for pair in saved["starts"] for v in pair)  # ids, no text
    assert saved["posts"] == len(train)


@pytest.mark.parametrize("lean", [True, False])
def test_unprompted_posts_start_as_the_training_posts_do(twin_dir, lean):
    """Every post of a run starts with a token some training post starts with, however hot
    the sampling; ``model_start`` lets the model pick (and it picks others when hot)."""
    twin = Twin.load(twin_dir, lean=lean)
    allowed = set(torch.isfinite(twin.starts).nonzero().flatten().tolist())
    rows: dict[int, list] = {}
    stream = twin.sampler.stream

    def spy(*args, **kwargs):
        for step in stream(*args, **kwargs):
            for row, tok, _ in step:
                rows.setdefault(row, []).append(tok)
            yield step

    twin.sampler.stream = spy
    hot = dict(n=30, seed=3, temperature=3.0, novelty=False)
    result = twin.generate(None, **hot)
    posts = [p for toks in rows.values() for p in split_at(toks, twin.sep_id) if p]
    assert len(posts) > len(rows) and {p[0] for p in posts} <= allowed  # warm-ups included
    assert result.settings["start"] == "posts"
    rows.clear()
    free = twin.generate(None, **hot, model_start=True)
    assert free.settings["start"] == "model"
    assert {p[0] for toks in rows.values() for p in split_at(toks, twin.sep_id) if p} - allowed
    assert twin.generate("Today", n=2, seed=3, novelty=False).settings["start"] == "model"
    greedy = twin.generate(None, n=1, temperature=0, novelty=False)
    assert greedy.settings["start"] == "model"  # greedy takes the model's likeliest start


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_a_first_token_is_drawn_as_often_as_posts_start_with_it(twin, temperature):
    """The start distribution is drawn as given, not sharpened or flattened by temperature."""
    from tweettwin.ml.post_start import start_logprobs

    a, b = sorted(int(t) for t in twin.sampler.vocab[:2])
    starts = start_logprobs({a: 3, b: 1}, twin.starts.shape[0])
    opts = SamplingOptions(temperature=temperature, max_new_tokens=1)
    gen = torch.Generator().manual_seed(1)
    steps = twin.sampler.stream(
        [twin.sep_id], 800, opts, [], generator=gen, posts_vocab=True, starts=starts
    )
    drawn = [tok for step in steps for _, tok, _ in step]
    assert set(drawn) == {a, b}
    assert 0.70 < drawn.count(a) / len(drawn) < 0.80  # 3 in 4 (sd 0.015 at 800 draws)


def test_model_start_from_the_cli_matches_python(twin_dir):
    twin = Twin.load(twin_dir)
    own = twin.generate(None, n=4, seed=5, novelty=False, model_start=True).posts
    assert own != twin.generate(None, n=4, seed=5, novelty=False).posts
    res = CliRunner().invoke(
        cli, ["generate", str(twin_dir), "-n", "4", "--seed", "5", "--model-start",
              "--no-novelty-guard"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == own


def test_damaged_or_missing_post_starts(twin_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(twin_dir, folder)
    (folder / "post_starts.json").write_text('{"format": "tweettwin-post-starts", "version": 1, '
                                             '"starts": [[99999999, 2]]}')  # fmt: skip
    with pytest.raises(ModelError, match=r"post_starts.json: not a tweettwin table of post"):
        Twin.load(folder)
    (folder / "post_starts.json").unlink()  # a folder trained before: the model picks
    twin = Twin.load(folder)
    assert twin.starts is None and twin.start() == "model"
    assert twin.generate(None, n=2, seed=1, novelty=False).settings["start"] == "model"


# ------------------------------------------------------------------------ the posts' vocabulary


def posts_tokens(twin, posts) -> set[int]:
    return {t for p in posts for t in twin.tokenizer(p["text"], add_special_tokens=False).input_ids}


def test_training_keeps_the_posts_vocabulary(twin, twin_dir):
    from tweettwin.ml.post_vocab import read_post_vocab

    train = [p for i, p in enumerate(synthetic_posts()) if i % 10]  # write_dataset's split
    saved = read_post_vocab(twin_dir, len(twin.tokenizer))
    assert set(saved) == posts_tokens(twin, train)
    assert len(saved) < len(twin.tokenizer) // 2  # 30 words: a small share of the vocabulary


@pytest.mark.parametrize("lean", [True, False])
def test_samples_use_only_the_posts_tokens_unless_full_vocab(twin_dir, lean):
    twin = Twin.load(twin_dir, lean=lean)
    allowed = {int(t) for t in twin.sampler.vocab}
    drawn: list[int] = []
    stream = twin.sampler.stream

    def spy(*args, **kwargs):  # every token the sampler draws, warm-up posts included
        for step in stream(*args, **kwargs):
            drawn.extend(tok for _, tok, _ in step if tok is not None)
            yield step

    twin.sampler.stream = spy
    hot = dict(n=40, seed=3, temperature=3.0, novelty=False)  # hot: the tail gets drawn
    for prompt in (None, "Today"):  # a run of posts after a warm-up, and a prompted post
        assert twin.generate(prompt, **hot).posts
    assert drawn and set(drawn) <= allowed
    drawn.clear()
    result = twin.generate(**hot, full_vocab=True)
    assert set(drawn) - allowed  # the whole vocabulary
    assert result.settings["vocab"] == twin.model.config.vocab_size > len(allowed)


def test_lean_posts_head_is_the_full_heads_rows_and_draws_like_the_masked_loop(twin_dir):
    """The lean head over the posts' rows alone, and the full logits with the rest masked: the
    same logits, so the same seeded draws (exact fp32 on both: no rounding apart)."""
    twin = Twin.load(twin_dir, dtype=torch.float32, quantize=False)
    lean, vocab = twin.sampler.lean, twin.sampler.vocab
    prompt = [twin.sep_id, *twin.tokenizer("Honestly", add_special_tokens=False).input_ids]
    part, state = lean.prefill(prompt, 2, 16, posts_vocab=True)
    whole, state_all = lean.prefill(prompt, 2, 16)
    torch.testing.assert_close(part, whole[vocab])
    nxt = vocab[:2]
    torch.testing.assert_close(lean.step(state, nxt), lean.step(state_all, nxt)[:, vocab])
    hf = Twin.load(twin_dir, dtype=torch.float32, quantize=False, lean=False)  # transformers'
    loop = Sampler(hf.model, lean=False, vocab=vocab.tolist())
    opts = SamplingOptions(temperature=1.5, max_new_tokens=1)  # one step: no row leaves early
    first = {}
    for name, sampler in (("lean", twin.sampler), ("loop", loop)):
        gen = torch.Generator().manual_seed(5)
        steps = sampler.stream(prompt, 64, opts, [0], generator=gen, posts_vocab=True)
        first[name] = [tok for step in steps for _, tok, _ in step]
    assert first["lean"] == first["loop"]
    assert set(first["lean"]) - {None} <= set(vocab.tolist()) and len(set(first["lean"])) > 5


def test_a_damaged_posts_vocabulary_is_one_clear_line(twin_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(twin_dir, folder)
    (folder / "post_vocab.json").write_text('{"format": "tweettwin-post-vocab", "tokens": [')
    with pytest.raises(ModelError, match=r"post_vocab.json: not a tweettwin post vocabulary"):
        Twin.load(folder)
    (folder / "post_vocab.json").unlink()  # any model folder without one: the whole vocabulary
    assert Twin.load(folder).sampler.vocab is None
