"""`tweettwin serve` from the CLI: light start-up, --get smoke test, refusing an unsafe bind."""

from __future__ import annotations

import json
import subprocess
import sys


def test_cli_start_up_imports_neither_torch_nor_fastapi():
    code = (
        "import sys; from tweettwin.cli import cli; "
        "print(sorted(m for m in ('torch', 'fastapi', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
    help_ = subprocess.run(
        [sys.executable, "-m", "tweettwin", "serve", "--help"], capture_output=True, text=True
    )
    assert help_.returncode == 0 and "--api-key" in help_.stdout


def test_get_answers_one_request_in_process(twin_dir):
    out = subprocess.run(
        [sys.executable, "-m", "tweettwin", "serve", str(twin_dir), "--get", "/v1/models"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert [m["id"] for m in json.loads(out.stdout)["data"]] == ["tiny"]
    missing = subprocess.run(
        [sys.executable, "-m", "tweettwin", "serve", "--get", "/v1/models/nope"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and json.loads(missing.stdout)["error"]["code"]
