"""eval's scores on known inputs: style features, Fréchet distance, the classifier two-sample
test (≈0.5 for two samples of the same posts, ≈1 for random text), diversity, copies, report."""

from __future__ import annotations

import random
import re

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")

from tweettwin.evaluate import metrics, style  # noqa: E402
from tweettwin.evaluate.core import headline, score_posts  # noqa: E402
from tweettwin.evaluate.embed import embed_wordllama  # noqa: E402

WORDS = (
    "coffee morning garden rain bike code bug deploy friday weekend sunset tea book train city "
    "music walk river cat dog bread mountain cloud window light night dream idea work home"
).split()


def posts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    openers = ["Today", "My dream is", "Honestly", "Just", "Nothing beats", "Why is"]
    return [
        f"{rng.choice(openers)} {' '.join(rng.sample(WORDS, rng.randint(4, 12)))}"
        + rng.choice([".", "!", "?", " #weekend", " ☕"])
        for _ in range(n)
    ]


def gibberish(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    letters = "qxzjvkwy"
    return [
        " ".join(
            "".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(rng.randint(2, 20))
        )
        for _ in range(n)
    ]


def test_post_features():
    f = style.post_features("Just shipped it! #release @odile ☕")
    assert f["words"] == 6 and f["hashtag"] == f["mention"] == f["emoji"] == 1
    assert f["exclamation"] == 1 and f["question"] == 0 and f["capitalised"] == 1
    assert style.post_features("why is it raining?")["lowercase"] == 1
    report = style.style_report(["a #b?", "c d"], ["e f g"])
    assert report["rates"]["question"] == {
        "label": "asks a question (?)",
        "real": 0.5,
        "generated": 0.0,
    }
    assert report["lengths"]["words"]["generated"]["mean"] == 3


def test_frechet_distance_grows_with_the_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 4)), rng.normal(size=(400, 4))
    same = metrics.frechet_distance(a, b)
    assert same < 0.2
    assert 3.4 < metrics.frechet_distance(a, b + 1.0) < 4.6  # |shift|^2 = 4


def test_kernel_distance_is_unbiased_and_sees_shift_and_collapse():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(120, 8))
    same = [metrics.kernel_distance(real, rng.normal(size=(200, 8))) for _ in range(20)]
    assert abs(np.mean(same)) < 0.004  # no bias from the sample sizes: ~0 on average
    assert min(same) < 0 < max(same)  # single draws scatter around 0, both ways
    shifted = metrics.kernel_distance(real, rng.normal(size=(200, 8)) + 0.5)
    assert shifted > 10 * max(same)
    # the same mean but no spread (one post written over and over): far, as it should be
    one_post = 1e-3 * rng.normal(size=(200, 8))
    assert metrics.kernel_distance(real, one_post) > 10 * max(same)
    # the kernel's width comes from the real rows: scaling both sides changes nothing
    other = rng.normal(size=(200, 8)) + 0.5
    assert metrics.kernel_distance(real * 10, other * 10) == pytest.approx(
        metrics.kernel_distance(real, other)
    )
    with pytest.raises(ValueError, match="at least two rows"):
        metrics.kernel_distance(real[:1], real)


def test_classifier_auc_on_vectors():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(150, 8))
    assert 0.35 < metrics.classifier_auc(a, rng.normal(size=(150, 8)))["auc"] < 0.65
    shifted = metrics.classifier_auc(a, rng.normal(size=(150, 8)) + 1.5)
    assert shifted["auc"] > 0.95 and shifted["per_class"] == 150


@pytest.fixture(scope="module")
def real_vs_real():
    return score_posts(posts(150, 1), posts(150, 2), posts(300, 3), embed_wordllama, seed=0)


def test_same_posts_are_indistinguishable(real_vs_real):
    dist = real_vs_real["distribution"]
    assert 0.35 < dist["classifier_auc"] < 0.65
    assert dist["frechet_distance"] < 2 * dist["frechet_distance_real_halves"] + 0.01
    assert abs(dist["kernel_distance"]) < 0.02


def test_the_reference_is_the_persons_own_posts_scored_the_same_way(real_vs_real):
    ref = real_vs_real["distribution"]["reference"]
    assert ref["posts"] == 150 and ref["source"] == "training posts"
    assert 0.35 < ref["classifier_auc"] < 0.65  # same kind of posts: a floor near 0.5
    fake = score_posts(posts(150, 1), gibberish(150, 2), posts(300, 3), embed_wordllama)
    assert fake["distribution"]["reference"] == ref  # it scores the real posts, not the samples
    assert fake["distribution"]["frechet_distance"] > 5 * ref["frechet_distance"]
    assert fake["distribution"]["kernel_distance"] > 5 * max(ref["kernel_distance"], 0.01)
    few = score_posts(posts(150, 1), posts(50, 2), posts(30, 3), embed_wordllama)
    assert few["distribution"]["reference"]["posts"] == 30  # as many as there are
    assert (
        score_posts(posts(150, 1), posts(50, 2), [], embed_wordllama)["distribution"]["reference"]
        is None
    )
    off = score_posts(posts(150, 1), posts(50, 2), posts(30, 3), embed_wordllama, reference=False)
    assert off["distribution"]["reference"] is None


def test_random_text_is_told_apart():
    scores = score_posts(posts(150, 1), gibberish(150, 2), posts(300, 3), embed_wordllama)
    assert scores["distribution"]["classifier_auc"] > 0.95
    assert scores["distribution"]["auc_embedding_only"] > 0.95


def test_diversity():
    assert metrics.distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6, abs=1e-4)
    assert metrics.distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4, abs=1e-4)
    same = ["the cat sat on the mat today"] * 5
    assert metrics.self_bleu(same) == pytest.approx(1.0)
    apart = [" ".join(f"w{i}x{j}" for j in range(8)) for i in range(5)]
    assert metrics.self_bleu(apart) < 0.05
    assert metrics.self_bleu(posts(60, 1)) < metrics.self_bleu(posts(5, 1) * 12)


def test_copies_by_kind():
    train = ["The quick brown fox jumps over the lazy dog today", "Short one"]
    checker = metrics.CopyChecker(train)
    assert checker.kind("the QUICK brown fox jumps over the lazy dog today!") == "verbatim"
    assert checker.kind("so the quick brown fox jumps over the lazy dog again") == "run"
    assert checker.kind("the quick brown fox naps") is None
    summary = checker.summary(
        ["short one", "nothing like it", "x the quick brown fox jumps over the lazy dog"]
    )
    assert summary["rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert (summary["verbatim"], summary["runs"], summary["of"]) == (1, 1, 3)


def test_memorization_guarded_and_not():
    train = posts(50, 4)
    scores = score_posts(
        posts(40, 1), posts(40, 2), train, embed_wordllama, unguarded=train[:10] + posts(30, 2)
    )
    top = headline(scores)
    assert top["copy_rate_unguarded"] == pytest.approx(0.25, abs=0.03)
    assert top["copy_rate"] < 0.05


def test_report_is_self_contained(real_vs_real):
    from tweettwin.evaluate.report import render_report

    r = {
        **real_vs_real,
        **headline(real_vs_real),
        "perplexity": 20.0,
        "base_perplexity": 60.0,
        "guard_dropped": 2,
        "samples": 150,
        "validation_posts": 150,
        "seconds": 3.0,
        "timing": {"fit_s": 1.2, "sampling_s": 1.4, "scoring_s": 0.4, "cpu": "x"},
        "embedding": "wordllama",
        "warnings": ["only 150 validation posts"],
        "model": {
            "path": "me/model",
            "training_evals": [{"step": 0, "val_loss": 4.0}, {"step": 10, "val_loss": 3.0}],
            "training_precision": "bf16",
        },
        "examples": {"generated": ["<b>not bold</b>"], "real": ["a real one"]},
    }
    page = render_report(r)
    assert page.count("<svg") == 4  # training curve, two length histograms, style rates
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold" not in page
    assert "<script" not in page and not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    assert "3.0× less surprising" in page and "only 150 validation posts" in page
    # every section is read in plain words, and the tables sit at their own height
    assert "Validation loss went from 4.00 at step 0 to 3.00 at step 10" in page
    assert "rescores the saved model in fp32: 20.00 (training scored under bf16 autocast" in page
    assert "Length in words: real posts have a median of" in page
    assert "the classifier reaches" in page and "posts users get" in page
    assert "150 of the person&#x27;s own training posts score" in page  # the AUC's floor
    assert "150 of the person&#x27;s own training posts are" in page  # and FD's
    assert "3 s (held-out loss 1 s, sampling 1 s, scoring 0 s)." in page
    assert "align-items:flex-start" in page and "Noto Color Emoji" in page


def _rates(**pairs):
    return {k: {"label": k, "real": r, "generated": g} for k, (r, g) in pairs.items()}


def test_style_readings_name_the_biggest_gaps():
    from tweettwin.evaluate.report import style_readings

    st = {
        "lengths": {
            "words": {"real": {"median": 9, "p90": 15}, "generated": {"median": 8.0, "p90": 18}}
        },
        "rates": _rates(caps=(0.63, 0.39), lower=(0.13, 0.33), tag=(0.2, 0.21), q=(0.1, 0.0)),
    }
    lengths, habits = style_readings(st)
    assert lengths == (
        "Length in words: real posts have a median of 9 (nine in ten at most 15), generated "
        "ones 8 (at most 18)."
    )
    assert habits.startswith("Biggest differences in habits: caps: 63% of real posts")
    assert "lower" in habits and "q: 10%" in habits and "tag" not in habits
    close = style_readings({"rates": _rates(tag=(0.2, 0.22))})
    assert close == ["Every habit below is within 5 points of the real posts' rate."]


def _readings(distribution: dict) -> dict:
    """Score name -> (value, reading) for an eval result with this ``distribution`` section."""
    from tweettwin.evaluate.report import readings

    r = {
        "classifier_auc": 0.8,
        "distinct_2": 0.8,
        "self_bleu": 0.3,
        "copy_rate": 0.0,
        "copy_rate_unguarded": 0.0,
        "samples": 200,
        "validation_posts": 117,
        "embedding": "minilm",
        "distribution": distribution,
        "diversity": {"real": {"distinct_2": 0.9, "self_bleu": 0.2}},
    }
    return {k: (v, text) for k, v, text in readings(r)}


def test_frechet_reading_says_when_it_is_below_the_noise_floor():
    def fd_text(fd, floor, ref=None):
        dist = {"frechet_distance": fd, "frechet_distance_real_halves": floor, "reference": ref}
        return _readings(dist)["Fréchet distance"][1]

    assert "(58 each)" in fd_text(0.69, 0.86) and "cannot tell the two apart" in fd_text(0.69, 0.86)
    assert "2.00× that far" in fd_text(1.2, 0.6)
    ref = {"posts": 200, "classifier_auc": 0.58, "frechet_distance": 0.5}
    assert "200 of the person's own training posts are 0.5000 from the held-out ones" in fd_text(
        0.64, 0.86, ref
    )
    assert "1.28× that far" in fd_text(0.64, 0.86, ref)  # against the reference, not the halves
    assert "cannot tell the two apart" in fd_text(0.49, 0.86, ref)


def test_kernel_reading_gives_the_persons_own_score_and_skips_old_files():
    def rows(dist):
        return _readings({"frechet_distance": 0.6, "frechet_distance_real_halves": 0.8} | dist)

    ref = {"posts": 200, "classifier_auc": 0.58, "frechet_distance": 0.5, "kernel_distance": 9e-4}
    value, text = rows({"kernel_distance": 0.00324, "reference": ref})["Kernel distance"]
    assert value == "3.24 ×10⁻³" and "(minilm)" in text
    assert text.endswith("200 of the person's own training posts score 0.90 ×10⁻³")
    assert "Kernel distance" not in rows({"reference": ref})  # an eval.json from before it


def test_report_examples_are_a_seeded_spread_not_the_first_finishers():
    from tweettwin.evaluate.model import _pick

    texts = ["x" * n for n in range(1, 51)]  # a batch hands back its shortest samples first
    picked = _pick(texts, seed=0)
    assert len(picked) == 20 and picked == sorted(picked, key=len)
    assert picked != texts[:20] and max(map(len, picked)) > 30
    assert picked == _pick(texts, seed=0) and picked != _pick(texts, seed=1)
    assert _pick(texts[:5], seed=0) == texts[:5]
