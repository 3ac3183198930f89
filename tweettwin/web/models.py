"""Which models the server offers, loading them lazily, and the bounded queue they run on.

Model ids are names, never paths: every completed "train" run of the workspace's registry whose
model folder still exists, plus each MODEL_DIR given to ``serve`` (a folder called ``model`` is
named after its parent: ``<workspace>/odile_bakes/model`` is ``odile_bakes``). Loaded twins stay
in an LRU of ``max_loaded``. Generation runs on one worker thread (CPU-bound, and a twin is used
by one call at a time); at most ``queue_size`` calls wait or run, the next one gets a 503.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tweettwin.web.errors import ApiError

_UNSAFE = re.compile(r"[^\w.@+-]+")
CATALOG_TTL_S = 5.0


@dataclass(frozen=True)
class ModelEntry:
    id: str
    path: Path
    created: int
    run_id: str | None = None


def model_name(path: Path) -> str:
    path = path.resolve()
    name = path.parent.name if path.name == "model" else path.name
    return _UNSAFE.sub("_", name).strip("._") or "model"


def _created(path: Path) -> int:
    try:
        return int((path / "config.json").stat().st_mtime)
    except OSError:
        return 0


def default_loader(path: Path):
    from tweettwin.errors import require

    require("torch", "Serving a model", "ml")
    from tweettwin.ml.twin import Twin
    from tweettwin.web.engine import Engine

    return Engine(Twin.load(path))


class ModelPool:
    def __init__(
        self,
        workspace: str | os.PathLike | None = None,
        model_dirs: Sequence[str | os.PathLike] = (),
        *,
        max_loaded: int = 2,
        loader: Callable[[Path], object] = default_loader,
    ) -> None:
        self.workspace = workspace
        self.model_dirs = [Path(p) for p in model_dirs]
        self.max_loaded = max(1, max_loaded)
        self.loader = loader
        self._loaded: OrderedDict[tuple[str, Path, int], object] = OrderedDict()
        self._lock = threading.Lock()
        self._recent: tuple[dict[str, ModelEntry], float] = ({}, 0.0)

    def catalog(self) -> dict[str, ModelEntry]:
        """Name -> entry, read afresh (a model trained a moment ago is listed at once)."""
        entries: dict[str, ModelEntry] = {}
        seen: set[Path] = set()

        def add(path: Path, run_id: str | None) -> None:
            path = path.resolve()
            if path in seen or not (path / "config.json").is_file():
                return
            seen.add(path)
            name = model_name(path)
            if name in entries:
                name = f"{name}-{(run_id or str(len(entries)))[-6:].lower()}"
            entries[name] = ModelEntry(name, path, _created(path), run_id)

        for path in self.model_dirs:
            add(path, None)
        for run in self._train_runs():
            if run.outputs.get("model_dir"):
                add(Path(run.outputs["model_dir"]), run.id)
        return entries

    def _train_runs(self):
        from tweettwin.tracking import list_runs

        return list_runs(workspace=self.workspace, kind="train", status="completed")

    def entry(self, name: str) -> ModelEntry:
        """The model called ``name``; a recent listing serves the hot path (no registry read per
        request), an unknown name always reads the registry again."""
        cached, at = self._recent
        found = cached.get(name) if time.monotonic() - at < CATALOG_TTL_S else None
        if found is None:
            self._recent = (self.catalog(), time.monotonic())
            found = self._recent[0].get(name)
        if found is None:
            raise ApiError(
                404,
                f"no model named {name!r}; GET /v1/models lists the ones this server has",
                param="model",
                code="model_not_found",
            )
        return found

    def engine(self, entry: ModelEntry):
        """The loaded model (loaded now if needed); run it on the worker thread."""
        key = (entry.id, entry.path, entry.created)  # retrained in place: load the new weights
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
        engine = self.loader(entry.path)
        with self._lock:
            self._loaded[key] = engine
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
        return engine


class WorkQueue:
    """One worker thread and a bound on calls waiting or running; beyond it: 503 at once."""

    def __init__(self, size: int = 8) -> None:
        self.size = max(1, size)
        self.pending = 0  # touched on the event loop only
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="tweettwin-generate")
        self._mean_s = 1.0

    def check(self) -> None:
        """Raise the 503 now if a call would not be admitted."""
        if self.pending >= self.size:
            wait = max(1, math.ceil(self._mean_s * self.pending))
            raise ApiError(
                503,
                f"the server is busy ({self.pending} requests queued); retry in {wait} s",
                code="queue_full",
                headers={"Retry-After": str(wait)},
            )

    async def run(self, fn: Callable, *args):
        self.check()
        self.pending += 1
        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self.pending -= 1
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - started)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
