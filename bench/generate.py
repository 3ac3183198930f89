"""Sampling speed: 10 samples of a post's length with the real embedded model (bf16, 2 threads),
tweettwin's lean decode path vs transformers' generate(), in the same run.

    python bench/generate.py [--tokens 60] [--reps 3] [--threads 2]

Every sample is forced to the full length (stop tokens off) so both paths do the same work;
figures are medians of --reps runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from tweettwin.ml.base_model import resolve_base
from tweettwin.ml.sampler import Sampler, SamplingOptions

NEVER = 10**9  # a stop id no vocabulary has: every sample runs the full length


def timed(fn, reps: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--tokens", type=int, default=60, help="new tokens per sample (a post's length)"
    )
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    folder = resolve_base("embedded")[0]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    prompt = [0, *tok("I think that the", add_special_tokens=False).input_ids]
    opts = SamplingOptions(temperature=1.0, top_k=50, top_p=0.95, max_new_tokens=args.tokens)
    lean, hf = Sampler(model), Sampler(model, lean=False)
    seconds = {}
    for name, sampler in (("lean", lean), ("hf-generate", hf)):
        seconds[name] = timed(
            lambda s=sampler: s.sample(prompt, args.n, opts, stop_ids=[NEVER], seed=0), args.reps
        )
        rate = args.n * args.tokens / seconds[name]
        print(
            f"{name:12s} {args.n} x {args.tokens} tokens: {seconds[name]:.2f} s "
            f"({rate:.0f} tokens/s)"
        )
    print(
        f"speed-up lean vs generate(): {seconds['hf-generate'] / seconds['lean']:.2f}x "
        f"({args.threads} threads, bf16 weights, top_k 50 + top_p 0.95)"
    )


if __name__ == "__main__":
    main()
