"""Evaluate a model folder: held-out fit, samples (guard off, then topped up with the guard on),
then :func:`~tweettwin.evaluate.core.score_posts`. Torch is imported only inside."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

from tweettwin.evaluate.core import EVAL_FORMAT, EvalInputs, headline, score_posts
from tweettwin.evaluate.embed import DEFAULT, embedder


def evaluate(
    inputs: EvalInputs,
    *,
    samples: int = 200,
    seed: int = 0,
    embedding: str = DEFAULT,
    progress: Callable[[int], None] | None = None,
    stage: Callable[[str], None] = lambda text: None,
) -> dict:
    """Every score of ``tweettwin eval`` as one JSON-ready dict (see the issue's key list).

    ``progress(k)``: k more samples drawn; ``stage(text)``: what runs now."""
    from tweettwin.ml import evaluation as ev
    from tweettwin.ml.twin import Twin

    started = time.perf_counter()
    timing: dict[str, float] = {}
    record = inputs.folder.training
    tick = time.perf_counter()
    stage("held-out loss")
    model, tokenizer = ev.load_folder(inputs.folder.path)
    fit = {
        "model": ev.fit(ev.heldout_loss(model, tokenizer, inputs.validation, record.author_tags))
    }
    del model
    base = ev.load_recorded_base(record.base_model)
    if base is not None:
        fit["base"] = ev.fit(ev.heldout_loss(*base, inputs.validation, record.author_tags))
    timing["fit_s"] = round(time.perf_counter() - tick, 2)

    tick = time.perf_counter()
    stage("sampling")
    twin = Twin.load(inputs.folder.path)
    authors = twin.authors if twin.author_tags else [None]
    unguarded = ev.sample_unguarded(twin, samples, seed, progress, authors=authors or [None])
    guarded, dropped = _apply_guard(twin, unguarded, seed, authors or [None])
    timing["sampling_s"] = round(time.perf_counter() - tick, 2)

    tick = time.perf_counter()
    stage("scoring")
    real = [r["text"] for r in inputs.validation]
    embed = embedder(embedding, base=lambda: base)
    scores = score_posts(
        real, guarded, [r["text"] for r in inputs.train], embed, unguarded=unguarded, seed=seed
    )
    scores["memorization"]["guard_dropped"] = dropped
    timing["scoring_s"] = round(time.perf_counter() - tick, 2)
    seconds = round(time.perf_counter() - started, 2)
    out = _assemble(inputs, fit, scores, samples, seed, embedding, seconds, timing, guarded, real)
    out["model"]["sampling_vocab"] = twin.vocab()  # tokens each sampled token was drawn among
    out["model"]["sampling_start"] = twin.start()  # who picks a post's first token
    return out


def _apply_guard(twin, unguarded: list[str], seed: int, authors) -> tuple[list[str], int | None]:
    """The samples the model's guard keeps, topped up to the same count with the guard on."""
    from tweettwin.ml import evaluation as ev

    if twin.novelty is None:
        return list(unguarded), None
    kept = [p for p in unguarded if not twin.novelty.is_copy(p)]
    dropped = len(unguarded) - len(kept)
    return kept + ev.top_up_guarded(twin, dropped, seed + 1_000_003, authors[0]), dropped


def _pick(texts: list[str], seed: int, k: int = 20) -> list[str]:
    """A seeded random ``k`` of ``texts``, in their order: a batch returns its short samples first
    (they finish first), so the first ``k`` would show the report only the shortest posts."""
    import random

    keep = sorted(random.Random(seed).sample(range(len(texts)), min(k, len(texts))))
    return [texts[i] for i in keep]


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _assemble(inputs, fit, scores, samples, seed, embedding, seconds, timing, generated, real):
    base = fit.get("base", {})
    return {
        "format": EVAL_FORMAT,
        "format_version": 1,
        "perplexity": fit["model"]["perplexity"],
        "base_perplexity": base.get("perplexity"),
        "loss": fit["model"]["loss"],
        "base_loss": base.get("loss"),
        **headline(scores),
        "guard_dropped": scores["memorization"]["guard_dropped"],
        "samples": len(generated),
        "validation_posts": len(real),
        "seconds": seconds,
        "embedding": embedding,
        "seed": seed,
        "samples_requested": samples,
        "fit": fit,
        **scores,
        "examples": {"generated": _pick(generated, seed), "real": _pick(real, seed)},
        "model": {
            "path": str(inputs.folder.path),
            "base_model": inputs.folder.training.base_model_id,
            "training_evals": inputs.folder.training.evals,
            "training_precision": inputs.folder.training.precision,
        },
        "dataset": {"path": str(inputs.dataset_dir), "train_posts": len(inputs.train)},
        "timing": timing | {"cpu": cpu_name()},
        "warnings": inputs.warnings,
    }
