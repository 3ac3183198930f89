"""The tracked pipeline steps that every front end (CLI, ``make``, Python) runs.

    fetched = fetch_step("mastodon:@me@example.social")       # a "fetch" run in the registry
    prepared = prepare_step([fetched.output])                 # a "prepare" run
    trained = train_step(prepared.output, None, TrainConfig())  # a "train" run, lineage linked

They are the public ``tweettwin.ingest.fetch`` / ``prepare`` / ``train``. Each is the plain library
function inside a run of the local registry, so `tweettwin runs lineage MODEL_DIR` can walk
model -> base model -> dataset -> input files (-> raw fetched pages) however the model was made.
What a step produced travels to the registry in memory (the manifest, the training record), not
re-read from disk. Torch-free: training code is imported only when a step trains.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tweettwin.ingest.options import PrepareOptions
from tweettwin.train_config import TrainConfig, TrainResult
from tweettwin.train_events import OnEvent, TrainEvent, fan_out
from tweettwin.workspace import Workspace


def fetch_step(
    spec: str,
    output: str | os.PathLike | None = None,
    *,
    report_to: Sequence[str] | str = (),
    workspace: Workspace | str | os.PathLike | None = None,
    **options: Any,
):
    """``fetch`` recorded as a "fetch" run: the raw pages are the first link of the lineage.

    ``options`` are those of :func:`tweettwin.ingest.fetch.fetch` (``api_base``, ``limit``,
    ``update``,
    ``yes``, ``progress``, ``client``); returns its ``FetchResult`` with ``run_id`` set. The
    pages go to ``<workspace>/<handle>/raw/<platform>`` unless ``output`` says otherwise.
    """
    from tweettwin.ingest.fetch import fetch
    from tweettwin.tracking import start_run

    recorded = ("api_base", "limit", "update")
    config = {"source": spec, "output": str(output) if output is not None else None}
    config |= {k: options.get(k) for k in recorded}
    with start_run("fetch", config, report_to=report_to, workspace=workspace) as run:
        result = fetch(spec, output=output, workspace=workspace, **options)
        run.log_metrics({"fetched": result.fetched, "total": result.total}, step=0)
        run.log_artifact(result.output, "raw-data")
        run.set_lineage(account=result.account, raw_dir=str(Path(result.output).resolve()))
    result.run_id = run.id if run.recorded else None  # no id that `runs show` cannot find
    return result


def prepare_step(
    sources: Sequence[str | os.PathLike | Any],
    output: str | os.PathLike | None = None,
    options: PrepareOptions | None = None,
    *,
    source_options: Mapping[str, Any] | None = None,
    report_to: Sequence[str] | str = (),
    progress=None,
    workspace: Workspace | str | os.PathLike | None = None,
):
    """``prepare`` recorded as a "prepare" run: its options, raw input files and dataset made.

    Arguments are those of :func:`tweettwin.ingest.prepare.prepare`; returns its
    ``PrepareResult`` with
    ``run_id`` set. The run is recorded in ``workspace``'s registry.
    """
    from tweettwin.ingest.prepare import prepare
    from tweettwin.tracking import start_run

    options = options or PrepareOptions()
    ws = Workspace.resolve(workspace)
    sources = list(sources)
    config = {
        # ready SourceData objects are recorded by their spec
        "sources": [str(getattr(s, "spec", s)) for s in sources],
        "output": str(output) if output is not None else None,
        "options": options.to_dict(),
    }
    with start_run("prepare", config, report_to=report_to, workspace=ws) as run:
        result = prepare(
            sources, output, options, source_options=source_options, progress=progress, workspace=ws
        )
        # raw inputs -> dataset, from the manifest prepare just wrote (still in memory)
        run.log_dataset(result.output, sources=sources, manifest=result.manifest)
        run.finish(outputs={"dataset_dir": str(result.output)})
    result.run_id = run.id if run.recorded else None  # no id that `runs show` cannot find
    return result


def train_step(
    dataset_dir: str | os.PathLike,
    output: str | os.PathLike | None = None,
    config: TrainConfig | None = None,
    *,
    report_to: Sequence[str] | str = (),
    on_event: OnEvent | None = None,
    workspace: Workspace | str | os.PathLike | None = None,
) -> TrainResult:
    """``train`` recorded as a "train" run: dataset used, metrics, model made and its lineage;
    then the model card, rendered from the complete folder. This is ``tweettwin.train``.

    ``output`` defaults to ``model/`` beside the dataset folder. ``on_event(TrainEvent)`` hears
    the run's steps, evaluations, checkpoints and end (the CLI draws its progress from them).
    Under DDP (``accelerate launch``) only rank 0 records and reports; the other ranks just
    train. Ctrl-C raises ``TrainingInterrupted`` (a checkpoint was saved; its message says how to
    resume: ``config.resume``). The run is recorded in ``workspace``'s registry.
    """
    from tweettwin.errors import TrainingInterrupted, require

    require("torch", "Training", "ml")
    from tweettwin.ml.train import train
    from tweettwin.model_folder import weights_hash
    from tweettwin.publish.card import write_card
    from tweettwin.tracking import start_run

    config = config or TrainConfig()
    if output is None:
        output = Workspace.model_dir_for(Path(dataset_dir).resolve())
    output = Path(output)
    if not is_main_process():
        return train(dataset_dir, output, config)
    with start_run("train", config.to_dict(), report_to=report_to, workspace=workspace) as run:
        run.use_dataset(dataset_dir)

        def log_metrics(event: TrainEvent) -> None:
            if metrics := event.metrics():
                run.log_metrics(metrics, event.step)

        try:
            result = train(dataset_dir, output, config, on_event=fan_out(log_metrics, on_event))
        except TrainingInterrupted:  # a TweettwinError, but the run was stopped, not failed
            run.finish("interrupted", error="interrupted by the user (Ctrl-C)")
            raise
        write_card(output, workspace=workspace)  # the folder is complete: the card can read it
        record = result.record  # the training.json just written, still in memory
        run.set_lineage(
            base_model=record.base_model_id,
            base_model_hash=record.base_model_hash,
            dataset_hash=record.dataset_hash,
            dataset_dir=str(dataset_dir),
        )
        # the weights hash is how `tweettwin runs lineage MODEL_DIR` finds this run
        run.log_artifact(output, "model", weights_hash(output))
        run.finish(outputs={"model_dir": str(output)})
    result.run_id = run.id if run.recorded else None  # no id that `runs show` cannot find
    return result


def is_main_process() -> bool:
    """Rank 0, or no DDP at all: the process that writes records and reports metrics."""
    return int(os.environ.get("RANK", "0")) == 0


def eval_step(
    model_dir: str | os.PathLike,
    dataset: str | os.PathLike | None = None,
    *,
    samples: int = 200,
    seed: int = 0,
    embedding: str | None = None,
    report_to: Sequence[str] | str = (),
    progress=None,
    on_warning=None,
    stage=None,
    workspace: Workspace | str | os.PathLike | None = None,
) -> dict:
    """``eval`` recorded as an "eval" run: scores a model folder against its held-out posts.

    Writes ``eval.json`` and ``report.html`` into the model folder (each atomically) and
    re-renders the card if there is one. Inputs are checked first (one error, nothing written);
    ``on_warning(text)`` hears about a dataset that is not the model's or a small validation
    split. ``progress(k)`` is called as samples come in, ``stage(text)`` as each part starts.
    The run is recorded in ``workspace``'s registry. Returns the eval.json object.
    """
    from tweettwin.errors import require

    require("torch", "Evaluating a model", "ml")
    require("sklearn", "Evaluating a model", "eval")
    from tweettwin.evaluate.core import check_inputs
    from tweettwin.evaluate.embed import DEFAULT
    from tweettwin.evaluate.model import evaluate
    from tweettwin.model_folder import weights_hash
    from tweettwin.tracking import start_run

    inputs = check_inputs(model_dir, dataset)
    for warning in inputs.warnings:
        if on_warning:
            on_warning(warning)
    embedding = embedding or DEFAULT
    config = {
        "model_dir": str(model_dir),
        "dataset": str(inputs.dataset_dir),
        "samples": samples,
        "seed": seed,
        "embedding": embedding,
    }
    with start_run("eval", config, report_to=report_to, workspace=workspace) as run:
        run.use_dataset(inputs.dataset_dir)
        run.log_artifact(model_dir, "model", weights_hash(model_dir))
        result = evaluate(
            inputs,
            samples=samples,
            seed=seed,
            embedding=embedding,
            progress=progress,
            stage=stage or (lambda text: None),
        )
        result["run_id"] = run.id if run.recorded else None
        run.log_metrics(_eval_numbers(result), step=0)
        run.finish(outputs=_write_eval(Path(model_dir), result, workspace))
    return result


def _eval_numbers(result: Mapping) -> dict:
    """The scores of an eval result that are metrics (not flags, versions or seeds)."""
    return {
        k: v
        for k, v in result.items()
        if isinstance(v, (int, float))
        and not isinstance(v, bool)
        and k not in ("format_version", "seed")
    }


def _write_eval(folder: Path, result: Mapping, workspace) -> dict:
    """``eval.json`` and ``report.html`` into the model folder, then the card if it has one."""
    import json

    from tweettwin.atomic import write_text
    from tweettwin.evaluate.report import render_report
    from tweettwin.model_folder import EVAL_JSON, REPORT_HTML

    page = render_report(result)  # both texts first: a failure leaves the folder untouched
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    write_text(folder / EVAL_JSON, text)
    write_text(folder / REPORT_HTML, page)
    outputs = {"eval_json": str(folder / EVAL_JSON), "report": str(folder / REPORT_HTML)}
    if (folder / "README.md").is_file():
        from tweettwin.publish.card import write_card

        outputs["card"] = write_card(folder, workspace=workspace)["card"]
    return outputs
