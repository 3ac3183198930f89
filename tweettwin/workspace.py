"""The workspace: one folder for each account's posts, datasets and models, and the run registry.

    ws = Workspace.resolve("twins")       # explicit, else $TWEETTWIN_WORKSPACE, else ./tweettwin
    ws.raw_dir("alice@mastodon.social", "mastodon")   # twins/alice@mastodon.social/raw/mastodon
    ws.data_dir(["alice"])                            # twins/alice/data
    ws.db_path                                        # twins/runs.db

Every front end builds one and passes it down (the CLI from ``--workspace``), so nothing reads
the environment behind the caller's back. It is path-like: any ``workspace=`` argument that
takes a folder also takes a ``Workspace``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tweettwin.paths import workspace as _default_root

RAW, DATA, MODEL = "raw", "data", "model"
DB_NAME = "runs.db"
RUNS_DIR = "runs"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, where: Workspace | str | os.PathLike | None = None) -> Workspace:
        """``where`` as a Workspace; None means $TWEETTWIN_WORKSPACE, else ``./tweettwin``."""
        if isinstance(where, Workspace):
            return where
        return cls(_default_root(where))

    def __fspath__(self) -> str:
        return os.fspath(self.root)

    # -- layout: <workspace>/<handle>/{raw,data,model} -----------------------------------
    def handle_dir(self, handle: str) -> Path:
        return self.root / _fit(handle)

    def raw_dir(self, handle: str, platform: str) -> Path:
        """Where a fetch of ``handle`` on ``platform`` keeps its pages."""
        return self.handle_dir(_slug(handle, r"[^A-Za-z0-9._@-]")) / RAW / platform

    def data_dir(self, handles: Sequence[str]) -> Path:
        """The dataset of ``handles`` (several are joined with ``+``)."""
        safe = [_slug(h, r"[^\w.-]+").strip("._") or "posts" for h in handles] or ["posts"]
        return self.handle_dir("+".join(safe)) / DATA

    @staticmethod
    def model_dir_for(dataset_dir: str | os.PathLike) -> Path:
        """The model folder beside a dataset folder: ``<handle>/data`` -> ``<handle>/model``."""
        path = Path(dataset_dir)
        if path.name in ("", ".."):  # "." and ".." name no folder of their own
            path = path.resolve()
        return path.parent / MODEL

    # -- the run registry ------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS_DIR


def _slug(handle: str, unsafe: str) -> str:
    return re.sub(unsafe, "_", handle)


_MAX_NAME_BYTES = 120  # file systems allow 255 bytes a name; leave room for temp names


def _fit(name: str) -> str:
    """``name`` cut to fit a file system, ending in a hash of the whole name when cut (a
    300-character handle, 20 SOURCEs joined with +)."""
    data = name.encode("utf-8", "surrogatepass")
    if len(data) <= _MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(data).hexdigest()[:10]
    cut = data[: _MAX_NAME_BYTES - 11].decode("utf-8", "ignore").rstrip("+._")
    return f"{cut}-{digest}"
