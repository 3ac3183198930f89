"""Log-probabilities of given tokens under a twin's model (OpenAI ``logprobs`` + ``echo``).

A sequence is scored after the separator that starts every post, so even its first token has a
real log-probability (what lm-evaluation-harness' ``local-completions`` reads to score text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


@torch.inference_mode()
def token_logprobs(
    logits_of: Callable[[list[int]], torch.Tensor], sep_id: int, ids: Sequence[int], top: int = 0
) -> tuple[list[float], list[dict[int, float]]]:
    """For each of ``ids``: its log-probability given ``sep_id`` and the ids before it, and the
    ``top`` likeliest tokens at that position (id -> log-probability; empty lists when top=0).
    ``logits_of(ids)``: the model's logits [T, V] after each id (``Twin.logits``)."""
    ids = list(ids)
    if not ids:
        return [], []
    logits = logits_of([sep_id, *ids[:-1]]).float()
    logp = torch.log_softmax(logits, dim=-1)
    target = torch.tensor(ids)
    chosen = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1).tolist()
    tops: list[dict[int, float]] = []
    if top > 0:
        values, indices = logp.topk(min(top, logp.shape[-1]), dim=-1)
        tops = [
            dict(zip(i, v, strict=True))
            for i, v in zip(indices.tolist(), values.tolist(), strict=True)
        ]
    return chosen, tops
