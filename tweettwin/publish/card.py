"""The model card: README.md of a model folder, rendered from ``templates/model_card.md``.

Pure: :func:`card_context` (in ``card_values``) turns plain dicts (``training.json``,
``dataset_manifest.json``, an optional ``samples.json``) into template values, and
:func:`render_card_from` renders them with huggingface_hub's ``ModelCard``/``ModelCardData``
(YAML front matter + Jinja body). Only :func:`write_card` touches a model folder, and only
``generate_samples`` loads the model.

``training.json`` is read as a :class:`~tweettwin.model_folder.TrainingRecord` (one schema, no
guessing at keys). The card never contains training posts: the data section is counts from the
manifest, and samples are generated text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from tweettwin import model_folder
from tweettwin.atomic import write_text
from tweettwin.errors import OutputExistsError
from tweettwin.model_folder import CARD, PREVIEW_PNG, SAMPLES_JSON, TrainingRecord
from tweettwin.publish.card_values import DEFAULT_PROMPT, card_context

# Every card tweettwin writes holds this marker: a README.md without it is the user's own, and
# is never replaced without --overwrite (nor re-rendered by push).
CARD_MARKER = "<!-- tweettwin:card"
PREVIEW_FILE = PREVIEW_PNG  # names kept for importers
SAMPLES_FILE = SAMPLES_JSON


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
