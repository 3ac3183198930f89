"""The model folder: a standard Hugging Face folder plus tweettwin's records.

    model.safetensors, config.json, tokenizer.json, tokenizer_config.json
    generation_config.json   post sampling defaults; bos = eos = pad = the separator
    training.json            hyperparameters, evals, timings, hardware, versions, lineage
    dataset_manifest.json    the dataset's manifest, as is
    novelty index            hashed n-grams of the training posts (tweettwin.ml.novelty)
    post_vocab.json          the token ids the training posts use (tweettwin.ml.post_vocab)
    post_starts.json         how many training posts start with each token (ml.post_start)

So ``pipeline("text-generation", model=DIR)("My dream is", num_return_sequences=5)`` samples
post-like text with no extra arguments.

The model card (README.md) is not written here: the calling step renders it from the finished
folder (``tweettwin.publish.card.write_card``), so this module does not depend on the publishing
layer.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import GenerationConfig

from tweettwin.atomic import write_text
from tweettwin.generate_options import SAMPLING_DEFAULTS
from tweettwin.ml.novelty import write_index
from tweettwin.ml.post_start import write_post_starts
from tweettwin.ml.post_vocab import write_post_vocab
from tweettwin.model_folder import DATASET_MANIFEST, TrainingRecord


def generation_config(sep_id: int, max_new_tokens: int) -> GenerationConfig:
    """Sampling defaults for posts (from the one place they are written down)."""
    return GenerationConfig(
        do_sample=True,
        temperature=SAMPLING_DEFAULTS["temperature"],
        top_p=SAMPLING_DEFAULTS["top_p"],
        top_k=SAMPLING_DEFAULTS["top_k"],
        min_p=SAMPLING_DEFAULTS["min_p"] or None,  # None: transformers adds no min-p step
        max_new_tokens=max_new_tokens,
        bos_token_id=sep_id,
        eos_token_id=sep_id,
        pad_token_id=sep_id,
    )


def post_max_new_tokens(p95_tokens: int) -> int:
    """Room for a long post of this dataset (p95 length x 1.5), between 40 and 160 tokens."""
    return int(min(160, max(40, p95_tokens * 1.5)))


def save_model_folder(
    folder: Path,
    model,
    tokenizer,
    *,
    sep_id: int,
    max_new_tokens: int,
    save_dtype: str,
    training: TrainingRecord,
    manifest: dict,
    train_texts: list[str],
    train_ids: list[list[int]],
) -> None:
    """Write everything into ``folder`` (a temp folder that the caller renames into place)."""
    if hasattr(model, "merge_and_unload"):  # LoRA: fold the adapters into plain weights
        model = model.merge_and_unload()
    model = model.to(getattr(torch, save_dtype))
    model.config.use_cache = True
    for cfg in (model.config,):
        cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = sep_id
    model.generation_config = generation_config(sep_id, max_new_tokens)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    training.write(folder)
    write_text(folder / DATASET_MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    write_index(folder, train_texts)
    write_post_vocab(folder, train_ids)
    if not training.author_tags:  # tagged posts all start "@handle: ", the prompt of a sample
        write_post_starts(folder, train_ids)
