"""How long a twin takes from a cold process to its first posts: loading without transformers
(the default for a plain Llama folder) against loading through transformers, in one run.

    python bench/load.py [MODEL_DIR] [--avx2] [--reps 5] [--n 10]

Each rep starts fresh processes, interleaved, for both loaders (``$TWEETTWIN_LOADER`` unset,
then ``=transformers``): one times ``import torch``, ``Twin.load`` and ``generate(n)`` inside
the process, one times the whole ``tweettwin generate MODEL_DIR -n N`` command from outside.
A figure is the fastest rep (the least disturbed on a shared machine), the median beside it;
ratios are transformers' time over the default's, measured here. Prints the CPU first.
MODEL_DIR defaults to the demo's model (``make demo``). ``--avx2`` limits torch, oneDNN, MKL and
fbgemm to AVX2 in the child processes (bf16 emulated there): an AVX2-only CPU's kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from avx2 import AVX2_ENV

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tweettwin.ml.env import cpu_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo" / "odile_bakes" / "model"
INSIDE = """
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from tweettwin import Twin
twin = Twin.load(sys.argv[1])
t2 = time.perf_counter()
result = twin.generate(n=int(sys.argv[2]), seed=0)
t3 = time.perf_counter()
print(json.dumps({"torch": t1 - t0, "load": t2 - t1, "generate": t3 - t2,
    "first": result.posts[0] if result.posts else "", "path": twin.sampler.path,
    "model": type(twin.model).__name__, "capability": torch.backends.cpu.get_cpu_capability(),
    "transformers": "transformers" in sys.modules}))
"""
LOADERS = {"default": "auto", "transformers": "transformers"}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", nargs="?", default=str(DEMO), help="a model folder")
    ap.add_argument("--avx2", action="store_true", help="AVX2-only kernels in the children")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--n", type=int, default=10, help="posts per generate call")
    return ap.parse_args()


def env_for(loader: str, avx2: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TWEETTWIN_LOADER": LOADERS[loader]}
    return env | (AVX2_ENV if avx2 else {})


def run(args, loader: str, cmd: list[str]) -> tuple[str, float]:
    """Run ``cmd`` with ``loader``; its stdout and wall seconds (a failure ends the bench)."""
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env_for(loader, args.avx2), capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{loader}: {out.stderr.strip()[-2000:]}")
    return out.stdout, time.perf_counter() - start


def run_inside(args, loader: str) -> dict:
    stdout, _ = run(args, loader, [sys.executable, "-c", INSIDE, args.model_dir, str(args.n)])
    return json.loads(stdout.strip().splitlines()[-1])


def run_cli(args, loader: str) -> float:
    cmd = [sys.executable, "-m", "tweettwin", "generate", args.model_dir, "-n", str(args.n)]
    return run(args, loader, cmd)[1]


def main() -> None:
    args = parse_args()
    if not Path(args.model_dir, "config.json").is_file():
        sys.exit(f"{args.model_dir}: no model folder (run `make demo`, or give MODEL_DIR)")
    times: dict[str, dict[str, list[float]]] = {k: {} for k in LOADERS}
    seen: dict[str, dict] = {}
    for rep in range(args.reps):
        for loader in LOADERS:
            inside = run_inside(args, loader)
            seen[loader] = inside
            for key in ("torch", "load", "generate"):
                times[loader].setdefault(key, []).append(inside[key])
            times[loader].setdefault("command", []).append(run_cli(args, loader))
        print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr, flush=True)
    cap = seen["default"]["capability"]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, torch capability {cap}")
    print(f"model: {args.model_dir}; generate n={args.n}, seed 0; fastest of {args.reps} [median]")
    for loader, info in seen.items():
        print(
            f"  {loader}: loads a {info['model']}, samples on {info['path']}, "
            f"transformers imported: {info['transformers']}"
        )
    same = seen["default"]["first"] == seen["transformers"]["first"]
    print(f"  the same first post on both loaders: {same}")
    print("\n| step | transformers | **default** | ratio |\n| --- | ---: | ---: | ---: |")
    for key, label in (
        ("torch", "import torch"),
        ("load", "Twin.load"),
        ("generate", f"generate(n={args.n})"),
        ("command", f"`tweettwin generate -n {args.n}` (whole process)"),
    ):
        old, new = times["transformers"][key], times["default"][key]
        print(
            f"| {label} | {min(old):.2f} s [{statistics.median(old):.2f}] "
            f"| **{min(new):.2f} s** [{statistics.median(new):.2f}] | {min(old) / min(new):.2f}x |"
        )


if __name__ == "__main__":
    main()
