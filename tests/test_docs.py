"""docs/cli.md is the real `--help` of every command (regenerate: python docs/gen_cli.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tweettwin.cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _gen_cli():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_page_is_up_to_date():
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert page == _gen_cli().render(), "docs/cli.md is stale: run python docs/gen_cli.py"


def test_cli_page_covers_every_command():
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"## `tweettwin {name}`" in page
        for sub in getattr(command, "commands", {}):
            assert f"## `tweettwin {name} {sub}`" in page
