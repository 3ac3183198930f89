"""Start `tweettwin serve` as its own process on a free loopback port (for client tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], workspace: Path, timeout: float = 60):
    """`python -m tweettwin serve ARGS` on a free port; returns (process, base url)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TWEETTWIN_WORKSPACE": str(workspace)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tweettwin", "serve", *args, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode()[-3000:])
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not start")
