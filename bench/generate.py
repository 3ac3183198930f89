"""Sampling speed and fp16-weight fidelity with the real embedded model (SmolLM2-135M), in one run.

    python bench/generate.py [--fp32] [--avx2] [--tokens 60] [--n 10] [--reps 5] [--threads 2]

Prints the CPU, the fp32 and bf16 matmul peaks measured now, the compute dtype the measurement
picks (``--fp32`` forces fp32 on a bf16 machine), then times, interleaved rep by rep, the same
10 x 60-token sampling job on: transformers' ``generate()`` (the baseline), tweettwin's lean
decoder with the exact weights (the model's own, in the compute dtype), and with fp16 weights
and fp32 activations (the default where the compute dtype is fp32), and the default drawing
among the word pieces ``--archive``'s training posts use (a tweettwin model's default, its LM
head that much smaller). Every sample runs the full length (stop tokens off) so all paths do the
same work;
a path's time is its fastest rep (the least disturbed by other work on a shared machine), the
median is shown beside it. Ratios are against the baseline and the exact path, measured here.

Then the cost in accuracy, on held-out posts of a real archive (``--archive``, from
../shared/data/x-archive): mean next-token loss (perplexity) of the exact fp32 path, fp16 weights
and bf16 (where native), next-token top-1 agreement with exact fp32, and how many greedy
continuations are identical.

``--avx2`` reruns this script with torch, oneDNN, MKL and fbgemm limited to AVX2 (bf16 then
emulated): the kernels of an AVX2-only CPU on this machine's memory and cores.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from avx2 import rerun_limited
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from tweettwin.generate_options import SAMPLING_DEFAULTS
from tweettwin.ml.base_model import resolve_base
from tweettwin.ml.env import cpu_model
from tweettwin.ml.precision import decode_layout, measure
from tweettwin.ml.sampler import LeanLlama, Sampler, SamplingOptions

NEVER = 10**9  # a stop id no vocabulary has: every sample runs the full length
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "x-archive"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=60, help="new tokens per sample (a post)")
    ap.add_argument("--n", type=int, default=10, help="samples per job (one batch)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fp32", action="store_true", help="force the fp32 path on a bf16 machine")
    ap.add_argument("--avx2", action="store_true", help="limit the kernels to AVX2 (see above)")
    ap.add_argument("--archive", default="andreruffert", help="held-out posts for the accuracy")
    ap.add_argument("--posts", type=int, default=200, help="held-out posts to score")
    ap.add_argument("--greedy", type=int, default=40, help="greedy continuations to compare")
    ap.add_argument("--no-hf", action="store_true", help="skip the generate() baseline")
    ap.add_argument("--only", choices=("speed", "accuracy"),
                    help="run one half (each fits a short bench-lock slot)")  # fmt: skip
    return ap.parse_args()


def machine(args) -> str:
    """Print the CPU and the peaks; return the compute precision the measurement picks."""
    torch.set_num_threads(args.threads)
    peaks = measure()
    limited = " (kernels limited to AVX2)" if os.environ.get("ONEDNN_MAX_CPU_ISA") else ""
    cap = torch.backends.cpu.get_cpu_capability()
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, capability {cap}, "
          f"{args.threads} threads{limited}")  # fmt: skip
    print(f"matmul peaks, GFLOP/s: training shape fp32 {peaks.fp32_train:.0f}, bf16 "
          f"{peaks.bf16_train:.0f}; decoding kernels fp32 {peaks.fp32_decode:.0f} "
          f"({decode_layout(torch.float32)} weights), bf16 {peaks.bf16_decode:.0f} "
          f"({decode_layout(torch.bfloat16)})")  # fmt: skip
    measured = "bf16" if peaks.bf16_wins("decode") else "fp32"
    chosen = "fp32" if args.fp32 else measured
    print(f"decode precision: {chosen} (measured choice {measured}" +
          (", forced fp32 by --fp32)" if args.fp32 else ")"))  # fmt: skip
    return chosen


def timed(jobs: dict, reps: int) -> dict[str, list[float]]:
    """Seconds per rep of each job, interleaved so background load hits all paths alike."""
    for job in jobs.values():
        job()  # warm-up: oneDNN primitive creation, allocator growth
    runs: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(reps):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            runs[name].append(time.perf_counter() - start)
    return runs


def speed(model, prompt, dtype, args, vocab: list[int]) -> None:
    # tweettwin's own sampling defaults, so the bench times what `generate` runs
    d = {k: SAMPLING_DEFAULTS[k] for k in ("temperature", "top_k", "top_p")}
    opts = SamplingOptions(**d, max_new_tokens=args.tokens)
    started = time.perf_counter()
    exact = Sampler(model, dtype=dtype, quantize=False)
    mid = time.perf_counter()
    quantize = dtype == torch.float32  # the default: fp16 weights under fp32 compute
    fast = Sampler(model, dtype=dtype, quantize=True)
    fast_s = time.perf_counter() - mid
    own = Sampler(model, dtype=dtype, quantize=quantize, vocab=vocab)
    print(f"preparing the weights: exact {mid - started:.2f} s, fp16 {fast_s:.2f} s")
    jobs = {}
    if not args.no_hf:
        ids = torch.tensor([prompt] * args.n)

        def hf():
            with torch.inference_mode():
                model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True,
                               **d, max_new_tokens=args.tokens,
                               min_new_tokens=args.tokens, pad_token_id=0)  # fmt: skip

        jobs[f"hf-generate/{str(dtype)[6:]}"] = hf
    for sampler in (exact, fast):
        jobs[sampler.path] = lambda s=sampler: s.sample(prompt, args.n, opts, [NEVER], seed=0)

    def posts_only():  # every token among the posts' word pieces: the tweettwin model default
        for _ in own.stream(
            prompt,
            args.n,
            opts,
            [NEVER],
            generator=torch.Generator().manual_seed(0),
            posts_vocab=True,
        ):
            pass

    jobs[f"{own.path} + posts' vocab ({len(vocab)})"] = posts_only
    runs = timed(jobs, args.reps)
    best = {name: min(r) for name, r in runs.items()}
    base = next(iter(best.values()))
    print(f"\nsampling {args.n} x {args.tokens} tokens ({d}), fastest of "
          f"{args.reps} [median]:")  # fmt: skip
    for name, sec in best.items():
        print(f"  {name:46s} {sec:6.2f} s [{statistics.median(runs[name]):6.2f}]  "
              f"{args.n * args.tokens / sec:5.0f} tok/s  {base / sec:5.2f}x baseline  "
              f"{best[exact.path] / sec:5.2f}x exact")  # fmt: skip
    from tweettwin.ml.decode import choose

    plan = choose(dtype=dtype)
    default = fast.path if plan.quantize else exact.path
    print(f"  default path here (Twin.load): {default}, a tweettwin model: + posts' vocab")


def held_out_posts(archive: str, limit: int, split: str = "validation") -> list[str]:
    import json

    from tweettwin.ingest.prepare import prepare

    src = SHARED / f"{archive}.zip"
    if not src.is_file():
        sys.exit(f"{src} not found: the bench needs ../shared/data/x-archive/")
    with tempfile.TemporaryDirectory() as tmp:
        out = prepare([src], Path(tmp) / "data").output
        lines = (Path(out) / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines][:limit]


def posts_vocab(tok, archive: str) -> list[int]:
    """The word pieces ``archive``'s training posts use, as ``train`` keeps them, plus the
    separator (id 0): what a tweettwin model of that archive samples among."""
    posts = held_out_posts(archive, 10**9, split="train")
    return sorted({0, *(t for ids in tok(posts, add_special_tokens=False).input_ids for t in ids)})


def accuracy(folder, tok, dtype, args) -> None:
    """fp16 weights (and bf16) against exact fp32 on real posts: loss, top-1, greedy runs."""
    posts = held_out_posts(args.archive, args.posts)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    paths = {"fp32": LeanLlama(model, torch.float32), "fp16w": LeanLlama(model, quantize=True)}
    if dtype == torch.bfloat16:
        paths["bf16"] = LeanLlama(model, torch.bfloat16)
    loss = dict.fromkeys(paths, 0.0)
    agree = dict.fromkeys(paths, 0)
    same = dict.fromkeys(paths, 0)
    count = 0
    greedy = SamplingOptions(temperature=0, max_new_tokens=30)
    for i, text in enumerate(posts):
        ids = [tok.bos_token_id or 0, *tok(text, add_special_tokens=False).input_ids][:128]
        target = torch.tensor(ids[1:])
        count += len(target)
        ref_top1 = ref_greedy = None
        for name, lean in paths.items():  # fp32 first: the reference
            logits = lean.prefill(ids[:-1], 1, len(ids), every_position=True)[0]
            top1 = logits.argmax(-1)
            run = _greedy(lean, ids[:4], greedy) if i < args.greedy else None
            if ref_top1 is None:
                ref_top1, ref_greedy = top1, run
            loss[name] += F.cross_entropy(logits, target, reduction="sum").item()
            agree[name] += (top1 == ref_top1).sum().item()
            same[name] += run is not None and run == ref_greedy
    print(
        f"\nagainst exact fp32 on {len(posts)} held-out posts of {args.archive} ({count} tokens):"
    )
    base = math.exp(loss["fp32"] / count)
    for name in paths:
        ppl = math.exp(loss[name] / count)
        print(f"  {name:5s} loss {loss[name] / count:.4f}  perplexity {ppl:.2f} "
              f"({100 * (ppl / base - 1):+.2f}%)  next-token top-1 agreement "
              f"{100 * agree[name] / count:5.1f}%  identical greedy 30-token continuations "
              f"{same[name]}/{min(args.greedy, len(posts))}")  # fmt: skip


def _greedy(lean, prompt, opts) -> list[int]:
    from tweettwin.ml.sampler import _lean_batch

    stop = torch.tensor([NEVER])
    return [step[0][1] for step in _lean_batch(lean, prompt, 1, opts, stop, None)]


def main() -> None:
    args = parse_args()
    if args.avx2:
        rerun_limited("--avx2")
    hf_logging.set_verbosity_error()
    dtype = torch.bfloat16 if machine(args) == "bf16" else torch.float32
    folder = resolve_base("embedded")[0]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    prompt = [0, *tok("I think that the", add_special_tokens=False).input_ids]
    if args.only != "accuracy":
        speed(model, prompt, dtype, args, posts_vocab(tok, args.archive))
    if args.only != "speed":
        accuracy(folder, tok, dtype, args)


if __name__ == "__main__":
    main()
