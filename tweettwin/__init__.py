"""tweettwin: turn your own posts into a small language model that writes posts in your voice.

The Python API mirrors the CLI; every front end calls the same functions::

    import tweettwin
    result = tweettwin.prepare(["twitter-archive.zip"])
    tweettwin.train(result.output, "my-twin", tweettwin.TrainConfig())
    twin = tweettwin.Twin.load("my-twin")
    print(twin.generate("My dream is", n=5).posts)

``import tweettwin`` never imports torch: every name below is resolved on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    # import and clean
    "open_source": ("tweettwin.ingest.sources", "open_source"),
    # fetch / prepare / train are the tracked steps: each is a run in the local registry
    "fetch": ("tweettwin.pipeline", "fetch_step"),
    "prepare": ("tweettwin.pipeline", "prepare_step"),
    "PrepareOptions": ("tweettwin.ingest.options", "PrepareOptions"),
    "load_dataset_dir": ("tweettwin.ingest.dataset", "load_dataset_dir"),
    # train and generate
    "TrainConfig": ("tweettwin.train_config", "TrainConfig"),
    "train": ("tweettwin.pipeline", "train_step"),  # tracked: a run in the registry + card
    "Twin": ("tweettwin.ml.twin", "Twin"),
    "GenerateOptions": ("tweettwin.generate_options", "GenerateOptions"),
    "make": ("tweettwin.pipeline.make_step", "make"),
    # how close the voice is, how much it copies: an "eval" run, eval.json + report.html
    "evaluate_model": ("tweettwin.pipeline", "eval_step"),
    # track, describe, publish
    "start_run": ("tweettwin.tracking", "start_run"),
    "list_runs": ("tweettwin.tracking", "list_runs"),
    "lineage": ("tweettwin.tracking", "lineage"),
    "Workspace": ("tweettwin.workspace", "Workspace"),
    "write_card": ("tweettwin.publish.card", "write_card"),
    "push": ("tweettwin.publish.hub", "push"),
    "export_model": ("tweettwin.publish.export", "export_model"),  # GGUF for llama.cpp / Ollama
    # errors
    "TweettwinError": ("tweettwin.errors", "TweettwinError"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'tweettwin' has no attribute {name!r}") from None
    if module.startswith("tweettwin.ml."):  # a clear hint, not a ModuleNotFoundError
        from tweettwin.errors import require

        require("torch", f"tweettwin.{name}", "ml")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
