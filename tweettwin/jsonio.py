"""Parsing JSON text with one-line errors: every reader and metadata file goes through here."""

from __future__ import annotations

import json
from typing import Any

from tweettwin.errors import InputError, TweettwinError


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
