"""The one secret redactor: run records, HTTP errors and Hub errors all pass through it.

    redact("GET http://me:hunter2@host failed")     # 'GET http://***@host failed'
    redact(message, [token])                        # and a secret the caller holds
    scrub({"hf_token": "hf_…", "lr": 3e-4})         # {'hf_token': '***', 'lr': 0.0003}

Four nets, so a secret is caught however it got into a string: values the caller knows (a
token it holds), the values of known secret environment variables, credentials in URLs and
``Bearer`` headers, and strings shaped like well-known tokens (``hf_…``, X bearer tokens,
``sk-…``). :func:`scrub` adds a fifth for structured data: keys that name a secret.
Torch-free and dependency-free, so every layer may import it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REDACTED = "***"

# Dict keys whose value is a secret whatever it looks like.
SECRET_KEY = re.compile(r"token|secret|passw|api[_-]?key|auth|bearer|credential|cookie", re.I)
SECRET_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "X_BEARER_TOKEN",
    "WANDB_API_KEY",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MASTODON_TOKEN",
    "BLUESKY_PASSWORD",
)
# An env value shorter than this is too likely to occur by chance ("1", "true") to replace.
_MIN_ENV_SECRET = 8

_TOKEN_SHAPE = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|AAAA[A-Za-z0-9%]{40,}|sk-[A-Za-z0-9_-]{20,})\b")
# scheme://user:password@host -> scheme://***@host (the userinfo part, up to the last "@").
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@]+@")
# "Bearer <token>" in a header quoted by an error message; short words ("Bearer token") stay.
_BEARER = re.compile(r"(?P<word>\bBearer\s+)[A-Za-z0-9._~+/%=-]{8,}", re.I)


def known_secrets(extra: Iterable[str] = ()) -> list[str]:
    """Secret values to look for: ``extra`` plus those of the secret environment variables
    (the fixed list above and any ``TWEETTWIN_*`` variable whose name says secret)."""
    values = [os.environ.get(name, "") for name in SECRET_ENV]
    values += [
        v for k, v in os.environ.items() if k.startswith("TWEETTWIN_") and SECRET_KEY.search(k)
    ]
    found = [v for v in values if len(v) >= _MIN_ENV_SECRET]
    # the longest first, so a secret that contains another is replaced whole
    return sorted({*found, *(v for v in extra if v)}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = (), *, _known: list[str] | None = None) -> str:
    """``text`` with every secret replaced by ``***`` (see the module docstring)."""
    for value in known_secrets(secrets) if _known is None else _known:
        text = text.replace(value, REDACTED)
    text = _URL_CREDENTIALS.sub(rf"\g<scheme>{REDACTED}@", text)
    text = _BEARER.sub(rf"\g<word>{REDACTED}", text)
    return _TOKEN_SHAPE.sub(REDACTED, text)


def scrub(value: Any, _known: list[str] | None = None) -> Any:
    """A copy of ``value`` (dicts, lists, strings, paths) with secrets replaced by ``***``:
    every string through :func:`redact`, and the whole value of a key that names a secret."""
    known = known_secrets() if _known is None else _known
    if isinstance(value, Mapping):
        return {
            str(k): (
                REDACTED
                if SECRET_KEY.search(str(k)) and v not in (None, "", False)
                else scrub(v, known)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub(v, known) for v in value]
    if isinstance(value, str):
        return redact(value, _known=known)
    if isinstance(value, Path):
        return str(value)
    return value
