"""The safety net: nothing stays "running" forever.

A run left open when the process exits (atexit) or is terminated (SIGTERM) is marked
"interrupted". SIGKILL skips both; the registry's readers catch those by the dead pid.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from typing import Any

_ACTIVE: dict[str, Any] = {}  # run id -> tweettwin.tracking.run.Run
_ACTIVE_LOCK = threading.Lock()
_INSTALLED = False


def watch(run: Any) -> None:
    """Close ``run`` as interrupted if the process ends while it is open."""
    with _ACTIVE_LOCK:
        _ACTIVE[run.id] = run
    _install()


def forget(run: Any) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.pop(run.id, None)


def _interrupt_active(reason: str) -> None:
    with _ACTIVE_LOCK:
        runs = list(_ACTIVE.values())
    for run in runs:
        with contextlib.suppress(Exception):
            run.finish("interrupted", error=reason)


def _install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    atexit.register(_interrupt_active, "the process exited before the run finished")
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return  # someone (accelerate, a web server) owns SIGTERM: rely on atexit + pid check

    def on_sigterm(signum, frame):
        _interrupt_active("terminated (SIGTERM)")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
