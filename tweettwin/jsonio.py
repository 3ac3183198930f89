"""Parsing JSON text with one-line errors: every reader and metadata file goes through here."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tweettwin.errors import InputError, ModelError, TweettwinError


def loads(text: str, where: str, todo: str, error: type[TweettwinError] = InputError) -> Any:
    """``json.loads`` with one-line errors (line, column) for bad or absurdly nested JSON.

    ``where`` names the file (and member); ``todo`` says what the user can do about it;
    ``error`` is the TweettwinError class to raise (e.g. DatasetError for a dataset's manifest).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as ex:
        raise error(
            f"{where}: invalid JSON at line {ex.lineno}, column {ex.colno} ({ex.msg}); {todo}"
        ) from None
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply; {todo}") from None


def read_model_table(
    path: Path, fmt: str, version: int, key: str, valid: Callable[[Any], bool], what: str
) -> Any:
    """The ``key`` field of a small JSON file a model folder keeps (``{"format": fmt,
    "version": version, key: ...}``), or None when the folder has none. A damaged file, another
    format or version, or a value ``valid`` rejects: ModelError ``"<path>: <what>"``."""
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        ours = meta.get("format") == fmt and meta.get("version") == version
        value = meta[key] if ours else None
        ok = value is not None and bool(valid(value))
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ModelError(f"{path}: {what}")
    return value
