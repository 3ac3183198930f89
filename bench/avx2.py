"""Benchmarks as an AVX2-only CPU runs them, on an AVX-512 machine: torch's own kernels, oneDNN,
MKL and fbgemm limited to AVX2 (bf16 then emulated, as there), on this machine's cores and
memory. The limits act when torch loads, so a script re-runs itself with them."""

from __future__ import annotations

import os
import sys

AVX2_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
}


def limited() -> bool:
    """True in a process that runs with the limits."""
    return os.environ.get("ATEN_CPU_CAPABILITY") == "avx2"


def rerun_limited(flag: str) -> None:
    """Re-run this script with the limits when ``flag`` is among its arguments (call it before
    importing torch)."""
    if flag in sys.argv and not limited():
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **AVX2_ENV})
