"""Where tweettwin keeps things: the workspace (runs, datasets) and the per-user cache."""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_ENV = "TWEETTWIN_WORKSPACE"
CACHE_ENV = "TWEETTWIN_CACHE"


def workspace(path: str | os.PathLike | None = None) -> Path:
    """The workspace folder: explicit path, else $TWEETTWIN_WORKSPACE, else ./tweettwin."""
    return Path(path or os.environ.get(WORKSPACE_ENV) or "tweettwin")


def cache_dir() -> Path:
    """Per-user cache (converted base models): $TWEETTWIN_CACHE or the platform's cache dir."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tweettwin"))


def public_path(path: str | os.PathLike) -> str:
    """A path fit for files that get published (training.json, model cards): the home folder
    is written as ``~`` so a user name never leaks to the Hub."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text
