"""Freed memory stays mapped for reuse (ml/memory.py): each case runs in a fresh process, since
the malloc setting is process-wide."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the malloc tuning is glibc-only",
)

# Where glibc puts a freed-and-reallocated 64 MiB tensor, and whether its pages stay in the
# process after the free: inside the brk heap, which is only trimmed past 1 GiB free, when kept;
# a fresh mmap, unmapped on free, by glibc's default. (Addresses, not page-fault counts: a VM's
# kernel may reclaim idle pages on its own.)
PROBE = """
import json, torch
from tweettwin.ml.memory import describe, keep_freed_memory

def heap():
    with open("/proc/self/maps") as fh:
        for line in fh:
            if line.rstrip().endswith("[heap]"):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                return lo, hi
    return 0, 0

def place():
    t = torch.empty(16 * 1024 * 1024, dtype=torch.float32)
    t.add_(1.0)
    lo, hi = heap()
    start, end = t.data_ptr(), t.data_ptr() + t.numel() * 4
    del t
    lo, hi_after = heap()
    return {"in_heap": lo <= start and end <= hi, "kept": lo <= start and end <= hi_after}

out = {"applied": keep_freed_memory(), "again": keep_freed_memory(), "describe": describe()}
out["first"], out["second"] = place(), place()
print(json.dumps(out))
"""


def probe(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    clean.pop("GLIBC_TUNABLES", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_freed_tensor_memory_stays_in_the_process():
    kept = probe()
    assert kept["applied"] and kept["again"]
    assert kept["describe"] == "glibc, freed memory kept"
    assert kept["first"] == kept["second"] == {"in_heap": True, "kept": True}

    default = probe(TWEETTWIN_MALLOC="default")
    assert not default["applied"]
    assert default["describe"] == "default"
    assert default["first"] == {"in_heap": False, "kept": False}  # mmap'd, unmapped on free


@pytest.mark.parametrize(
    "env",
    [{"MALLOC_MMAP_THRESHOLD_": "131072"}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}],
)
def test_the_users_own_malloc_settings_win(env):
    assert not probe(**env)["applied"]
