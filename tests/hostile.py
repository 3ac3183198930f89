"""Helpers for the hostile-input suites: run the CLI and demand one clean ``Error:`` line."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner

from tweettwin.cli import cli

WORDS = (
    "bake bread oven flour sugar morning dough crust butter salt yeast rise proof knead warm "
    "rye starter loaf honey seeds"
).split()


def sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def posts(n: int = 300, seed: int = 0) -> list[dict]:
    """Enough varied posts for a dataset (past min_chars), as JSON objects."""
    rng = random.Random(seed)
    return [
        {"id": str(i), "text": sentence(rng), "created_at": "2024-01-02T03:04:05Z"}
        for i in range(n)
    ]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_error(result, *needles: str) -> str:
    """Exit 2, exactly one non-empty output line, starting ``Error:``, no traceback."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def dataset_texts(folder: Path) -> list[str]:
    out = []
    for name in ("train.jsonl", "validation.jsonl"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            out.append(json.loads(line)["text"])
    return out
