"""Scores of generated posts against real ones (numpy/scipy/scikit-learn, no torch).

- :func:`frechet_distance`: distance between two Gaussians fitted to the post embeddings;
- :func:`kernel_distance`: the unbiased kernel two-sample distance (MMD²) between them;
- :func:`classifier_auc`: the two-sample test: cross-validated ROC AUC of a logistic regression
  telling real posts from generated ones (0.5 = indistinguishable, 1.0 = always told apart);
- :func:`distinct_n`, :func:`self_bleu`: diversity of the samples;
- :class:`CopyChecker`: verbatim copies and shared 8-word runs with the training posts.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np

from tweettwin.ml.novelty import DEFAULT_N, words


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``|mu_a - mu_b|^2 + Tr(Ca + Cb - 2 (Ca Cb)^1/2)`` between row sets ``a`` and ``b``."""
    from scipy import linalg
    from threadpoolctl import threadpool_limits

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least two rows on each side")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with threadpool_limits(1):
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():  # singular product: nudge the diagonals (as FID does)
            eps = np.eye(len(cov_a)) * 1e-6
            covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean)
    return float(max(value, 0.0))


def kernel_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """Unbiased squared maximum mean discrepancy (MMD², Gretton et al. 2012) between the row
    sets, with a Gaussian kernel whose width is the median distance between the ``real`` rows
    (so every system scored against the same real posts is measured with the same kernel).

    Why beside the Fréchet distance: at a few hundred posts the Fréchet distance is biased by
    the sample sizes and the spread of each set, and on real archives it ranked markovify's
    recombined sentences closer to the held-out posts than the person's own training posts
    (Mastodon export: 0.680 against 0.695). This estimate has no such bias: sets drawn from the
    same distribution score ~0 on average (single draws dip below 0), and the person's own
    posts scored lowest on every archive measured (bench/quality.py, README).
    """
    x, y = np.asarray(real, dtype=np.float64), np.asarray(generated, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("the kernel distance needs at least two rows on each side")
    dxx = _sq_dists(x, x)
    width2 = float(np.median(dxx[np.triu_indices(len(x), 1)]))
    gamma = 1.0 / (2.0 * width2) if width2 > 0 else 1.0
    m, n = len(x), len(y)

    def mean_off_diagonal(d: np.ndarray, k: int) -> float:  # k(x, x) = 1 on the diagonal
        return (np.exp(-gamma * d).sum() - k) / (k * (k - 1))

    value = (
        mean_off_diagonal(dxx, m)
        + mean_off_diagonal(_sq_dists(y, y), n)
        - 2.0 * np.exp(-gamma * _sq_dists(x, y)).mean()
    )
    return float(value)


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``a`` and ``b``."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def classifier_auc(
    real: np.ndarray, generated: np.ndarray, *, seed: int = 0, folds: int = 5
) -> dict:
    """Cross-validated ROC AUC of L2 logistic regression on standardised features, real (0) vs
    generated (1).

    The larger side is subsampled (seeded) so both classes count the same; every row is scored by
    a model that did not see it. Returns ``auc``, its spread over folds and the rows used.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    n = min(len(real), len(generated))
    if n < folds:
        raise ValueError(f"the classifier test needs at least {folds} posts on each side, not {n}")
    x = np.vstack([_pick(real, n, rng), _pick(generated, n, rng)]).astype(np.float64)
    y = np.r_[np.zeros(n), np.ones(n)]
    scores = np.zeros(len(y))
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    # one BLAS thread: these matrices are small, and on a busy 2-core machine threaded BLAS
    # made the same fits 20x slower
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.9 announces 1.10 changes
        per_fold = _cross_fit(x, y, splits, scores)
    return {
        "auc": round(float(roc_auc_score(y, scores)), 4),
        "fold_std": round(float(np.std(per_fold)), 4),
        "per_class": n,
        "folds": folds,
    }


def _cross_fit(x, y, splits, scores) -> list[float]:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    per_fold = []
    for train, test in splits:
        # the penalty is chosen inside each training fold: a few strong style features and many
        # weak embedding dimensions both get their say, and the test fold stays unseen
        model = make_pipeline(
            StandardScaler(),
            LogisticRegressionCV(Cs=_CS, cv=3, scoring="roc_auc", solver="liblinear"),
        )
        model.fit(x[train], y[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
        per_fold.append(roc_auc_score(y[test], scores[test]))
    return per_fold


_CS = (0.01, 0.1, 1.0)


def _pick(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    rows = np.asarray(rows)
    return rows if len(rows) == n else rows[np.sort(rng.choice(len(rows), n, replace=False))]


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique word n-grams / all word n-grams over the samples (1 = no n-gram repeats)."""
    grams = [g for t in texts for g in _ngrams(words(t), n)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def self_bleu(texts: Sequence[str], max_n: int = 4) -> float:
    """Mean BLEU-4 of each sample against all the others (Texygen's self-BLEU; 0 = diverse).

    Clipped n-gram precisions with add-one smoothing for n > 1, closest-length brevity penalty.
    """
    docs = [words(t) for t in texts]
    docs = [d for d in docs if d]
    if len(docs) < 2:
        return 0.0
    counts = [[Counter(_ngrams(d, n)) for n in range(1, max_n + 1)] for d in docs]
    best = [_top_two(counts, n) for n in range(max_n)]  # per n-gram: the two highest counts
    lengths = sorted(len(d) for d in docs)
    total = 0.0
    for i, doc in enumerate(docs):
        logs = 0.0
        for n in range(max_n):
            mine = counts[i][n]
            size = max(1, len(doc) - n)
            hits = sum(min(c, _other_max(best[n][g], c)) for g, c in mine.items())
            logs += math.log((hits + (n > 0)) / (size + (n > 0)) or 1e-9)
        ref = min(lengths, key=lambda k: (abs(k - len(doc)), k))
        penalty = 1.0 if len(doc) >= ref else math.exp(1 - ref / len(doc))
        total += penalty * math.exp(logs / max_n)
    return round(total / len(docs), 4)


def _top_two(counts: list[list[Counter]], n: int) -> dict:
    top: dict[tuple, list[int]] = {}
    for doc in counts:
        for gram, c in doc[n].items():
            pair = top.setdefault(gram, [0, 0])
            if c > pair[0]:
                pair[:] = [c, pair[0]]
            elif c > pair[1]:
                pair[1] = c
    return top


def _other_max(pair: list[int], mine: int) -> int:
    """The highest count among the *other* documents (drop this one's own count once)."""
    return pair[1] if pair[0] == mine else pair[0]


class CopyChecker:
    """Does a sample repeat a training post verbatim (normalised words) or share an ``n``-word
    run with one? The same normalisation as the novelty guard, but kept apart by kind."""

    def __init__(self, train_texts: Sequence[str], n: int = DEFAULT_N) -> None:
        self.n = n
        self.posts = {" ".join(w) for w in map(words, train_texts) if w}
        self.runs = {g for t in train_texts for g in _ngrams(words(t), n)}

    def kind(self, text: str) -> str | None:
        ws = words(text)
        if ws and " ".join(ws) in self.posts:
            return "verbatim"
        if any(g in self.runs for g in _ngrams(ws, self.n)):
            return "run"
        return None

    def summary(self, texts: Sequence[str]) -> dict:
        kinds = [self.kind(t) for t in texts]
        n = max(1, len(texts))
        return {
            "rate": round(sum(k is not None for k in kinds) / n, 4),
            "verbatim": sum(k == "verbatim" for k in kinds),
            "runs": sum(k == "run" for k in kinds),
            "of": len(texts),
            "examples": [t for t, k in zip(texts, kinds, strict=True) if k][:5],
        }
