"""One shot: SOURCE... -> dataset -> trained model folder -> model card with sample posts.

    result = make(["twitter-archive.zip"])          # <workspace>/<handle>/{data,model}
    result.samples.posts                            # 10 posts for "My dream is"

Each stage is the same library step the single commands call (``prepare_step``, ``train_step``,
``Twin.generate``, ``write_card``), so the registry holds a "prepare" and a "train" run linked
as if both commands had been run: `tweettwin runs lineage MODEL_DIR` walks back to the inputs.
torch is imported only once training starts, so bad input fails fast and light.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tweettwin.errors import OutputExistsError
from tweettwin.ingest.options import PrepareOptions
from tweettwin.train_config import TrainConfig, TrainResult
from tweettwin.train_events import OnEvent
from tweettwin.workspace import Workspace

DEFAULT_PROMPT = "My dream is"
N_SAMPLES = 10


@dataclass
class MakeResult:
    model_dir: Path
    dataset_dir: Path
    prepared: Any  # tweettwin.ingest.prepare.PrepareResult
    trained: TrainResult
    samples: Any  # tweettwin.ml.twin.GenerationResult
    prompt: str
    run_id: str | None = None  # the "train" run (the "prepare" one is prepared.run_id)

    def to_dict(self) -> dict:
        return {
            "model_dir": str(self.model_dir),
            "dataset_dir": str(self.dataset_dir),
            "run_id": self.run_id,
            "prepare": self.prepared.to_json(),
            "train": self.trained.to_dict(),
            "prompt": self.prompt,
            "samples": self.samples.to_dict(),
        }


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another -o or pass --overwrite")


def make(
    sources: Sequence[str | os.PathLike],
    output: str | os.PathLike | None = None,
    *,
    train_config: TrainConfig | None = None,
    prepare_options: PrepareOptions | None = None,
    source_options: Mapping[str, Any] | None = None,
    prompt: str = DEFAULT_PROMPT,
    n_samples: int = N_SAMPLES,
    overwrite: bool = False,
    report_to: Sequence[str] = (),
    on_stage: Callable[[str], None] | None = None,
    workspace: Workspace | str | os.PathLike | None = None,
    on_event: OnEvent | None = None,
) -> MakeResult:
    """Prepare ``sources``, train a model into ``output`` (default ``<workspace>/<handle>/model``),
    write ``n_samples`` posts for ``prompt`` to its ``samples.json`` and render its model card.

    An existing model folder is refused unless ``overwrite`` (and only replaced once the new one
    is complete). ``on_stage(name)`` is called as each stage starts (prepare, train, samples, card);
    ``on_event(TrainEvent)`` hears the training run (the CLI draws its progress bar from it).
    Both runs are recorded in ``workspace`` (default: $TWEETTWIN_WORKSPACE, else ``./tweettwin``).
    """
    from tweettwin.pipeline import prepare_step, train_step
    from tweettwin.publish.card import write_card
    from tweettwin.tracking import reporters

    stage = on_stage or (lambda name: None)
    ws = Workspace.resolve(workspace)
    config = dataclasses.replace(train_config or TrainConfig(), overwrite=overwrite, resume=False)
    if output is not None:
        _refuse_existing(Path(output), overwrite)
    # A tracker that isn't installed fails now, not after the posts are prepared.
    reporters.check_available(reporters.parse_report_to(report_to))

    stage("prepare")
    prepared = prepare_step(
        sources, None, prepare_options, source_options=source_options, workspace=ws
    )
    model_dir = Path(output) if output is not None else ws.model_dir_for(prepared.output)
    _refuse_existing(model_dir, overwrite)

    stage("train")
    # external trackers get the training run only: that is where the metrics are
    trained = train_step(
        prepared.output, model_dir, config, report_to=report_to, on_event=on_event, workspace=ws
    )

    stage("samples")
    samples = write_samples(model_dir, prompt, n_samples, seed=config.seed)

    stage("card")
    # the first sample becomes the card's thumbnail (preview.png), as huggingtweets did
    write_card(model_dir, preview_text=samples.posts[0] if samples.posts else None, workspace=ws)
    return MakeResult(
        model_dir, prepared.output, prepared, trained, samples, prompt, trained.run_id
    )


def write_samples(
    model_dir: str | os.PathLike,
    prompt: str = DEFAULT_PROMPT,
    n: int = N_SAMPLES,
    *,
    seed: int | None = None,
):
    """Sample ``n`` posts (novelty guard on) and save them as the folder's ``samples.json``."""
    from tweettwin.ml.twin import Twin
    from tweettwin.publish.card import write_samples as save

    twin = Twin.load(model_dir)
    # a model that speaks as several authors writes the card's samples as the first of them
    author = twin.authors[0] if twin.author_tags and twin.authors else None
    result = twin.generate(prompt, n, seed=seed, author=author)
    save(model_dir, prompt, result.posts)
    return result
