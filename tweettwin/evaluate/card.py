"""What the model card says about an eval.json: a short section and model-index metrics."""

from __future__ import annotations

from collections.abc import Mapping

# eval.json key -> (model-index metric type, name); fractions stay fractions
CARD_METRICS = {
    "classifier_auc": ("roc_auc", "Real-vs-generated classifier AUC (0.5 = indistinguishable)"),
    "frechet_distance": ("frechet_distance", "Fréchet distance of post embeddings"),
    "kernel_distance": ("kernel_distance", "Kernel distance (unbiased MMD²) of post embeddings"),
    "copy_rate": ("copy_rate", "Copy rate, guard on"),
    "copy_rate_unguarded": ("copy_rate_unguarded", "Copy rate, guard off"),
    "distinct_2": ("distinct_2", "Distinct-2"),
    "self_bleu": ("self_bleu", "Self-BLEU"),
}


def eval_summary(evaluation: Mapping | None) -> dict | None:
    """Template values for the card's evaluation section, or None without an eval.json."""
    if not evaluation or "classifier_auc" not in evaluation:
        return None
    auc = float(evaluation["classifier_auc"])
    ref = (evaluation.get("distribution") or {}).get("reference") or {}
    return {
        # the same scores for the person's own training posts: the floor at this sample size
        "ref_auc_words": f"{float(ref['classifier_auc']):.0%}" if ref else None,
        "ref_frechet": f"{float(ref['frechet_distance']):.4f}" if ref else None,
        "samples": evaluation.get("samples"),
        "validation_posts": evaluation.get("validation_posts"),
        "embedding": evaluation.get("embedding"),
        "auc": f"{auc:.3f}",
        "auc_words": f"{auc:.0%}",
        "frechet": f"{float(evaluation['frechet_distance']):.4f}",
        # eval.json files written before the kernel distance lack it
        "kernel": kernel_text(evaluation.get("kernel_distance")),
        "ref_kernel": kernel_text(ref.get("kernel_distance")),
        "copy_rate": f"{float(evaluation['copy_rate']):.1%}",
        "copy_rate_unguarded": f"{float(evaluation['copy_rate_unguarded']):.1%}",
        "distinct_2": f"{float(evaluation['distinct_2']):.3f}",
        "self_bleu": f"{float(evaluation['self_bleu']):.3f}",
    }


def kernel_text(value) -> str | None:
    """A kernel distance as people read it (its values are thousandths); None stays None."""
    return None if value is None else f"{float(value) * 1000:.2f} ×10⁻³"


def eval_results(evaluation: Mapping | None, common: Mapping) -> list:
    """``huggingface_hub.EvalResult`` entries (model-index) for the eval.json metrics."""
    if not evaluation:
        return []
    from huggingface_hub import EvalResult

    out = []
    for key, (kind, name) in CARD_METRICS.items():
        value = evaluation.get(key)
        if isinstance(value, (int, float)):
            out.append(EvalResult(metric_type=kind, metric_name=name, metric_value=value, **common))
    return out
