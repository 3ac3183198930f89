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
# `python -m tweettwin`, plus: SIGUSR1 writes every thread's stack to the log (see dump_stacks)
LAUNCH = (
    "import faulthandler, runpy, signal; faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "runpy.run_module('tweettwin', run_name='__main__', alter_sys=True)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], workspace: Path, timeout: float = 60):
    """`python -m tweettwin serve ARGS` on a free port; returns (process, base url).

    The server's output goes to ``server_log(workspace)``, a file: an unread pipe fills up and
    then blocks whichever server thread writes next (a training job's warning, say)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TWEETTWIN_WORKSPACE": str(workspace)}
    log = server_log(workspace)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "serve", *args, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(log_tail(workspace))
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not start")


def server_log(workspace: Path) -> Path:
    return Path(workspace).parent / f"{Path(workspace).name}-server.log"


def dump_stacks(proc) -> None:
    """Have a running server write its threads' stacks to its log (for a test that hung)."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1)


def log_tail(workspace: Path, chars: int = 3000) -> str:
    """The end of the server's output, for a failing test's message."""
    try:
        return server_log(workspace).read_text(errors="replace")[-chars:]
    except OSError:
        return "(no server output)"
