"""The torch half of ``tweettwin eval``: held-out loss (scored as training scores it) for a model
and its base model, and batched unprompted sampling with and without the copy guard."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from tweettwin.ml.data import encode, eval_batches, post_texts
from tweettwin.ml.loss import PostLM
from tweettwin.ml.sampler import MAX_BATCH

# Posts per sampling call (progress is shown between calls): the sampler's own batch, so eval's
# sampling costs what one call for all the posts costs (chunks of 25 cost ~25% more: a 32-row
# batch decodes at nearly the price of a 25-row one).
CHUNK = MAX_BATCH


@torch.inference_mode()
def heldout_loss(model, tokenizer, records: Sequence[dict], author_tags: bool = False) -> float:
    """Token-level mean loss over the validation posts, each scored as ``S text S`` in fp32:
    the loss training reports (``ml/train.py`` ``_evaluate``), on one process."""
    sep_id = tokenizer.eos_token_id
    net = PostLM(model.float().eval(), dtype=torch.float32)
    total = count = 0.0
    for ids, mask, labels in eval_batches(
        encode(tokenizer, post_texts(records, author_tags)), sep_id
    ):
        n = int((labels[:, 1:] != -100).sum())
        total += float(net(ids, labels=labels, attention_mask=mask)) * n
        count += n
    return total / count


def fit(loss: float) -> dict:
    return {"loss": round(loss, 4), "perplexity": round(math.exp(loss), 3)}


def load_folder(model_dir: str | Path):
    """``(model, tokenizer)`` of a model folder, fp32, offline."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, use_safetensors=True, local_files_only=True
    )
    return model.eval(), AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def load_recorded_base(base_model: dict) -> tuple | None:
    """The base model a training record names, if it is on this machine (never downloads)."""
    from tweettwin.ml.base_model import EMBEDDED, load_base

    name = base_model.get("name")
    if name == EMBEDDED or (name and Path(name).expanduser().is_dir()):
        model, tokenizer, _ = load_base(name)
        return model.eval(), tokenizer
    return None


def sample_unguarded(
    twin,
    n: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    *,
    authors: Sequence[str | None] = (None,),
) -> list[str]:
    """``n`` unprompted posts with the guard off, in chunks (``progress(k)`` after each); a model
    trained with author tags writes as each of ``authors`` in turn."""
    posts: list[str] = []
    for i, start in enumerate(range(0, n, CHUNK)):
        k = min(CHUNK, n - start)
        author = authors[i % len(authors)]
        result = twin.generate(None, k, seed=seed + start, novelty=False, author=author)
        posts.extend(result.posts)
        if progress:
            progress(k)
    return posts


def top_up_guarded(twin, n: int, seed: int, author: str | None = None) -> list[str]:
    """``n`` more posts with the model's guard on (replacing the samples it would have dropped)."""
    if n <= 0 or twin.novelty is None:
        return []
    return twin.generate(None, n, seed=seed, novelty=True, author=author).posts
