"""``evaluate(model_dir)``: every score of ``tweettwin eval`` in one JSON-ready dict.

Inputs are checked before anything is computed or written (:func:`check_inputs`); the torch work
(held-out loss, sampling, embeddings) is imported only when it runs. :func:`score_posts` scores
any list of generated posts, so bench/quality.py scores baselines (a markovify bot) the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tweettwin.errors import DatasetError, InputError
from tweettwin.evaluate import metrics, style
from tweettwin.model_folder import CONFIG_JSON, ModelFolder, read_model_folder

MIN_VALIDATION = 20  # below this the classifier's folds hold a handful of posts: refuse
STABLE_VALIDATION = 100  # below this the scores move a lot between seeds: warn
EVAL_FORMAT = "tweettwin-eval"


@dataclass
class EvalInputs:
    folder: ModelFolder
    dataset_dir: Path
    train: list[dict]
    validation: list[dict]
    warnings: list[str] = field(default_factory=list)


def check_inputs(model_dir, dataset: str | Path | None = None) -> EvalInputs:
    """The model folder and its held-out posts, or one clear error (Input/DatasetError).

    Without ``dataset`` the one the model was trained on is used and must still match the model's
    ``dataset_manifest.json``; a given ``dataset`` that does not match is used with a warning.
    """
    from tweettwin.ingest.dataset import load_dataset_dir, read_manifest

    folder = read_model_folder(model_dir, need_manifest=False)
    if not (folder.path / CONFIG_JSON).is_file():
        raise InputError(
            f"{folder.path}: no {CONFIG_JSON}; is it a model folder made by `tweettwin train`?"
        )
    expected = folder.manifest.get("content_hash") or folder.training.dataset_hash
    warnings = []
    if dataset is not None:
        path = Path(dataset)
        found = read_manifest(path).get("content_hash")
        if expected and found != expected:
            warnings.append(
                f"{path} is not the dataset this model was trained on (content hash {_short(found)}"
                f", the model's dataset_manifest.json says {_short(expected)}); its validation "
                "posts may not be held out"
            )
    else:
        path = _trained_dataset(folder, expected)
    manifest, train, validation = load_dataset_dir(path)
    validation = [r for r in validation if r["text"].strip()]
    if len(validation) < MIN_VALIDATION:
        raise DatasetError(
            f"{path}: only {len(validation)} validation posts; eval needs at least "
            f"{MIN_VALIDATION} for a stable score (prepare with a larger --validation-fraction)"
        )
    if len(validation) < STABLE_VALIDATION:
        warnings.append(
            f"only {len(validation)} validation posts: the scores are rough (they settle from "
            f"about {STABLE_VALIDATION})"
        )
    return EvalInputs(folder, path, train, validation, warnings)


def _short(value: str | None) -> str:
    return (value or "none").removeprefix("sha256:")[:12]


def _trained_dataset(folder: ModelFolder, expected: str | None) -> Path:
    recorded = folder.training.dataset.get("path")
    candidates = [Path(recorded).expanduser()] if recorded else []
    candidates.append(folder.path.parent / "data")  # where `make` puts it
    from tweettwin.ingest.dataset import read_manifest

    for path in candidates:
        if (path / "manifest.json").is_file():
            found = read_manifest(path).get("content_hash")
            if not expected or found == expected:
                return path
            raise DatasetError(
                f"{path} no longer matches the model's dataset_manifest.json (content hash "
                f"{_short(found)}, trained on {_short(expected)}); pass --dataset DIR to "
                "evaluate on it anyway"
            )
    where = recorded or "(not recorded)"
    raise DatasetError(
        f"the dataset this model was trained on is not at {where}; pass --dataset DIR"
    )


def score_posts(
    real: Sequence[str],
    generated: Sequence[str],
    train_texts: Sequence[str],
    embed: Callable[[Sequence[str]], object],
    *,
    unguarded: Sequence[str] | None = None,
    seed: int = 0,
    reference: bool = True,
) -> dict:
    """Style, distribution, diversity and memorization scores of ``generated`` against ``real``
    (held-out posts); ``unguarded`` are samples drawn with the copy guard off. ``reference``:
    also score as many training posts the same way (``distribution.reference``; one embedding
    pass more)."""
    import numpy as np

    vec_real, vec_gen = np.asarray(embed(list(real))), np.asarray(embed(list(generated)))
    sty_real = np.asarray(style.feature_rows(real))
    sty_gen = np.asarray(style.feature_rows(generated))
    both = metrics.classifier_auc(
        np.hstack([vec_real, sty_real]), np.hstack([vec_gen, sty_gen]), seed=seed
    )
    half = len(real) // 2
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real))
    distribution = {
        "classifier_auc": both["auc"],
        "classifier": both,
        "auc_embedding_only": metrics.classifier_auc(vec_real, vec_gen, seed=seed)["auc"],
        "auc_style_only": metrics.classifier_auc(sty_real, sty_gen, seed=seed)["auc"],
        "frechet_distance": round(metrics.frechet_distance(vec_real, vec_gen), 4),
        "kernel_distance": round(metrics.kernel_distance(vec_real, vec_gen), 6),
        # the noise floor: two halves of the real posts are this far apart
        "frechet_distance_real_halves": round(
            metrics.frechet_distance(vec_real[order[:half]], vec_real[order[half:]]), 4
        ),
    }
    distribution["reference"] = (
        _reference(real, vec_real, sty_real, train_texts, len(generated), embed, seed)
        if reference
        else None
    )
    real_sample = [real[i] for i in rng.permutation(len(real))[: len(generated)]]
    checker = metrics.CopyChecker(train_texts)
    memo = {"guarded": checker.summary(generated)}
    if unguarded is not None:
        memo["unguarded"] = checker.summary(unguarded)
    return {
        "style": style.style_report(real, generated),
        "distribution": distribution,
        "diversity": {
            "generated": _diversity(generated),
            "real": _diversity(real_sample),
        },
        "memorization": memo,
    }


def _reference(real, vec_real, sty_real, train_texts, n: int, embed, seed: int) -> dict | None:
    """The same scores for ``n`` of the person's own training posts against these held-out
    posts: what the person themself scores at this sample size (neither score reaches 0.5 / 0
    on a few hundred posts, so a bare number reads worse than it is)."""
    import numpy as np

    if len(train_texts) < 2 or n < 2:
        return None
    rng = np.random.default_rng(seed + 1)
    pick = [train_texts[i] for i in rng.permutation(len(train_texts))[:n]]
    vec = np.asarray(embed(pick))
    auc = metrics.classifier_auc(
        np.hstack([vec_real, sty_real]),
        np.hstack([vec, np.asarray(style.feature_rows(pick))]),
        seed=seed,
    )["auc"]
    return {
        "source": "training posts",
        "posts": len(pick),
        "classifier_auc": auc,
        "frechet_distance": round(metrics.frechet_distance(vec_real, vec), 4),
        "kernel_distance": round(metrics.kernel_distance(vec_real, vec), 6),
    }


def _diversity(texts: Sequence[str]) -> dict:
    return {
        "distinct_1": metrics.distinct_n(texts, 1),
        "distinct_2": metrics.distinct_n(texts, 2),
        "self_bleu": metrics.self_bleu(texts),
        "posts": len(texts),
    }


def headline(scores: dict) -> dict:
    """The top-level keys of eval.json, from the detailed sections."""
    memo = scores["memorization"]
    unguarded = memo.get("unguarded", memo["guarded"])
    div = scores["diversity"]["generated"]
    return {
        "frechet_distance": scores["distribution"]["frechet_distance"],
        "kernel_distance": scores["distribution"]["kernel_distance"],
        "classifier_auc": scores["distribution"]["classifier_auc"],
        "copy_rate": memo["guarded"]["rate"],
        "copy_rate_unguarded": unguarded["rate"],
        "distinct_1": div["distinct_1"],
        "distinct_2": div["distinct_2"],
        "self_bleu": div["self_bleu"],
    }
