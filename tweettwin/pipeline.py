"""The tracked pipeline steps that every front end (CLI, ``make``, Python) runs.

    prepared = prepare_step(["twitter-archive.zip"])          # a "prepare" run in the registry
    trained = train_step(prepared.output, None, TrainConfig())  # a "train" run, lineage linked

Each step is the plain library function (``prepare``, ``train``) inside a run of the local
registry, so `tweettwin runs lineage MODEL_DIR` can walk model -> base model -> dataset -> input
files however the model was made. Torch-free: training code is imported only when a step trains.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tweettwin.config import PrepareOptions
from tweettwin.train_config import TrainConfig, TrainResult


def prepare_step(
    sources: Sequence[str | os.PathLike | Any],
    output: str | os.PathLike | None = None,
    options: PrepareOptions | None = None,
    *,
    source_options: Mapping[str, Any] | None = None,
    report_to: Sequence[str] | str = (),
    progress=None,
):
    """``prepare`` recorded as a "prepare" run: its options, raw input files and dataset made.

    Arguments are those of :func:`tweettwin.prepare.prepare`; returns its ``PrepareResult`` with
    ``run_id`` set.
    """
    from tweettwin.prepare import prepare
    from tweettwin.tracking import start_run

    options = options or PrepareOptions()
    sources = list(sources)
    config = {
        # ready SourceData objects are recorded by their spec
        "sources": [str(getattr(s, "spec", s)) for s in sources],
        "output": str(output) if output is not None else None,
        "options": options.to_dict(),
    }
    with start_run("prepare", config, report_to=report_to) as run:
        result = prepare(sources, output, options, source_options=source_options, progress=progress)
        run.log_dataset(result.output, sources=sources)  # raw inputs -> dataset
        run.finish(outputs={"dataset_dir": str(result.output)})
    result.run_id = run.id
    return result


def train_step(
    dataset_dir: str | os.PathLike,
    output: str | os.PathLike | None = None,
    config: TrainConfig | None = None,
    *,
    report_to: Sequence[str] | str = (),
    progress: bool = True,
) -> TrainResult:
    """``train`` recorded as a "train" run: dataset used, metrics, model made and its lineage.

    ``output`` defaults to ``model/`` beside the dataset folder. Under DDP (``accelerate launch``)
    only rank 0 records and reports; the other ranks just train. Ctrl-C raises
    ``TrainingInterrupted`` (a checkpoint was saved; resume with ``config.resume``).
    """
    from tweettwin.ml.train import train
    from tweettwin.tracking import start_run

    config = config or TrainConfig()
    output = Path(output) if output is not None else Path(dataset_dir).resolve().parent / "model"
    if not is_main_process():
        return train(dataset_dir, output, config, progress=False)
    with start_run("train", config.to_dict(), report_to=report_to) as run:
        run.use_dataset(dataset_dir)
        result = train(dataset_dir, output, config, tracker=run, progress=progress)
        # weights hash (`tweettwin runs lineage` finds this run by it), base model and dataset
        run.log_model(output)
        run.set_lineage(dataset_dir=str(dataset_dir), model_dir=str(output))
        run.finish(outputs={"model_dir": str(output)})
    result.run_id = run.id
    return result


def is_main_process() -> bool:
    """Rank 0, or no DDP at all: the process that writes records and reports metrics."""
    return int(os.environ.get("RANK", "0")) == 0
