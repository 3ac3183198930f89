"""The model folder: a standard Hugging Face folder plus tweettwin's records.

    model.safetensors, config.json, tokenizer.json, tokenizer_config.json
    generation_config.json   post sampling defaults; bos = eos = pad = the separator
    training.json            hyperparameters, evals, timings, hardware, versions, lineage
    dataset_manifest.json    the dataset's manifest, as is
    novelty index            hashed n-grams of the training posts (tweettwin.ml.novelty)
    README.md                model card

So ``pipeline("text-generation", model=DIR)("My dream is", num_return_sequences=5)`` samples
post-like text with no extra arguments.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch
from transformers import GenerationConfig

from tweettwin.atomic import write_text
from tweettwin.generate_options import SAMPLING_DEFAULTS
from tweettwin.model_folder import DATASET_MANIFEST, TrainingRecord


def generation_config(sep_id: int, max_new_tokens: int) -> GenerationConfig:
    """Sampling defaults for posts (from the one place they are written down)."""
    return GenerationConfig(
        do_sample=True,
        temperature=SAMPLING_DEFAULTS["temperature"],
        top_p=SAMPLING_DEFAULTS["top_p"],
        top_k=SAMPLING_DEFAULTS["top_k"],
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
    _write_novelty_index(folder, train_texts)
    _write_card(folder, training.to_dict(), manifest)


def _optional(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _write_novelty_index(folder: Path, train_texts: list[str]) -> None:
    write_index = _optional("tweettwin.ml.novelty", "write_index")
    if write_index is not None:
        write_index(folder, train_texts)
    # TODO(lead): without tweettwin.ml.novelty (engineer D) the folder has no novelty index yet.


def _write_card(folder: Path, training: dict, manifest: dict) -> None:
    write_card = _optional("tweettwin.card", "write_card")
    if write_card is not None:
        write_card(folder)
        return
    write_text(folder / "README.md", minimal_card(training, manifest))


def minimal_card(training: dict, manifest: dict) -> str:
    """A first honest card, used until ``tweettwin.card`` renders the full one."""
    base = training["base_model"]
    metrics = training["metrics"]
    rows = "\n".join(
        f"| @{a.get('handle')} | {a.get('kept', '?')} | {a.get('train', '?')} "
        f"| {a.get('validation', '?')} |"
        for a in manifest.get("authors", [])
    )
    hp = training["hyperparameters"]
    return f"""---
license: {base.get("license") or "other"}
base_model: {base["model_id"].split(" ")[0]}
library_name: transformers
pipeline_tag: text-generation
tags: [tweettwin]
---

# A tweettwin model

A small language model fine-tuned on one person's (or a few people's) own posts to write new posts
in their voice. Made with tweettwin {training["versions"].get("tweettwin")}.

## Data

| author | posts kept | train | validation |
|---|---|---|---|
{rows}

Dataset content hash: `{training["dataset"]["content_hash"]}`.

## Training procedure

{hp["method"]} fine-tuning of `{base["model_id"]}` for {metrics["steps"]} steps
({metrics["epochs"]:.2f} epochs) at learning rate {hp["learning_rate"]},
{hp["batch_size"]} x {hp["block_size"]} tokens per step, cosine schedule with warm-up,
{training["precision"]} on {training["hardware"]["device"]}.
Wall time {training["wall_time_s"]:.0f} s ({training["tokens_per_s"]:.0f} tokens/s).

| | validation loss | perplexity |
|---|---|---|
| base model | {metrics["base_val_loss"]:.3f} | {metrics["base_val_perplexity"]:.1f} |
| this model (best) | {metrics["best_val_loss"]:.3f} | {metrics["best_val_perplexity"]:.1f} |

## How to use

```python
from transformers import pipeline
generate = pipeline("text-generation", model="PATH/TO/THIS/FOLDER")
print(generate("My dream is", num_return_sequences=5))
```

or `tweettwin generate PATH/TO/THIS/FOLDER "My dream is" -n 10`.

## Limitations and bias

The model imitates the style and topics of a small set of posts; it knows nothing the base model
did not, invents facts, and can repeat the biases, opinions and mistakes of its training posts and
of its base model. Its output is not written by the person and must not be presented as such.
"""
