"""Lower-bit weights for decoding, measured against the fp16-weight default, in one run.

    python bench/int8.py [--archive andreruffert] [--alphas none,0.5,0.8] [--rows 10]

Why this exists: on AVX2 CPUs the 10 x 60-token sampling job spends two thirds of its time in
fbgemm's fp16-weight matmuls (README, *Sampling speed*), so fewer bits per weight are the only big
lever left. This prints, on the real embedded model:

1. **Kernels**: one decode step of ``--rows`` rows through all the sampler's matrices (q/k/v and
   gate/up stacked, the LM head): fp16 weights (the baseline), dense fp32, fbgemm's dynamic int8
   (per-channel int8 weights, 7-bit activations as AVX2's saturating sums need) and torch's int4
   weight-only kernel (group 32) with fp32 and bf16 activations; fastest of ``--reps``.
2. **Fidelity** of the int8 path, which quantizes the activations too: SmoothQuant (per input
   channel, ``s = max|x|^a / max|w|^(1-a)``, x / s and W s; calibrated on 100 training posts)
   for each ``--alphas`` value (``none``: plain int8) against exact fp32 and fp16 weights, on the
   archive's validation posts: perplexity, next-token top-1 agreement, KL(exact || path) per
   token and identical greedy 30-token continuations.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from generate import SHARED, _greedy, machine
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from tweettwin.ml.base_model import resolve_base
from tweettwin.ml.sampler import LeanLlama, SamplingOptions

SLOTS = ("qkv", "o", "gate_up", "down")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", default="andreruffert", help="posts for the fidelity check")
    ap.add_argument("--alphas", default="none,0.5,0.8", help="SmoothQuant strengths to score")
    ap.add_argument("--rows", type=int, default=10, help="rows per decode step (samples)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--greedy", type=int, default=40, help="greedy continuations to compare")
    ap.add_argument("--only", choices=("kernels", "fidelity"), help="run one half")
    ap.set_defaults(fp32=False)  # machine() reads it: no bf16 forcing here
    return ap.parse_args()


# ------------------------------------------------------------------------------------- kernels


class Int8Linear:
    """fbgemm dynamic int8: per-channel int8 ``weight``, activations quantized per call (7-bit).
    ``smooth`` (per input channel) divides the activations and multiplies the weight's columns."""

    def __init__(self, weight: torch.Tensor, smooth: torch.Tensor | None = None) -> None:
        w = weight.float() if smooth is None else weight.float() * smooth
        scales = (w.abs().amax(1) / 127).clamp(min=1e-12).double()
        zeros = torch.zeros(len(scales), dtype=torch.long)
        qw = torch.quantize_per_channel(w, scales, zeros, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(qw, None)
        self.inverse = None if smooth is None else 1 / smooth

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x if self.inverse is None else x * self.inverse
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)


class Int4Linear:
    """torch's int4 weight-only kernel: asymmetric groups of 32 along the input dimension."""

    GROUP = 32

    def __init__(self, weight: torch.Tensor, dtype: torch.dtype) -> None:
        n, k = weight.shape
        g = weight.float().view(n, k // self.GROUP, self.GROUP)
        low, high = g.amin(-1), g.amax(-1)
        scale = ((high - low) / 15).clamp(min=1e-8)
        q = ((g - low[..., None]) / scale[..., None]).round().clamp(0, 15).to(torch.int32)
        self.packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.view(n, k), 1)
        # the kernel reads w = (q - 8) * scale + zero, per group: [k / group, n, 2]
        self.sz = torch.stack([scale, low + 8 * scale], -1).transpose(0, 1).contiguous().to(dtype)
        self.dtype = dtype

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int4pack_mm_for_cpu(
            x.to(self.dtype), self.packed, self.GROUP, self.sz
        )


def matrices(exact: LeanLlama) -> list[torch.Tensor]:
    return [lin.weight for layer in exact.layers for lin in layer] + [exact.lm_head.weight]


def kernels(exact: LeanLlama, fp16: LeanLlama, args) -> None:
    weights = matrices(exact)
    xs = {k: torch.randn(args.rows, k) for k in {w.shape[1] for w in weights}}
    fp16_lins = [lin for layer in fp16.layers for lin in layer] + [fp16.lm_head]
    paths = {
        "fp16 weights (default)": fp16_lins,
        "dense fp32": [lin for layer in exact.layers for lin in layer] + [exact.lm_head],
        "fbgemm dynamic int8": [Int8Linear(w) for w in weights],
        "int4 weight-only, fp32 activations": [Int4Linear(w, torch.float32) for w in weights],
        "int4 weight-only, bf16 activations": [Int4Linear(w, torch.bfloat16) for w in weights],
    }
    print(f"\none decode step, {args.rows} rows through {len(weights)} matrices, fastest of "
          f"{args.reps}:")  # fmt: skip
    base = None
    for name, lins in paths.items():
        best = math.inf
        with torch.inference_mode():
            for rep in range(args.reps + 1):  # the first: warm-up
                start = time.perf_counter()
                for w, lin in zip(weights, lins, strict=True):
                    lin(xs[w.shape[1]])
                took = time.perf_counter() - start
                slow = took > 2.0  # seconds per step: one run tells enough, warm-up or not
                if rep or slow:
                    best = min(best, took)
                if slow:
                    break
        base = base or best
        print(f"  {name:36s} {1e3 * best:8.1f} ms   {base / best:5.2f}x the fp16 weights")


# ------------------------------------------------------------------------------------ fidelity


def split(archive: str) -> tuple[list[str], list[str]]:
    """(validation posts, training posts) of a real archive, prepared the default way."""
    from tweettwin.ingest.prepare import prepare

    src = SHARED / f"{archive}.zip"
    if not src.is_file():
        sys.exit(f"{src} not found: the fidelity check needs ../shared/data/x-archive/")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(prepare([src], Path(tmp) / "data").output)
        return tuple(
            [json.loads(line)["text"] for line in (out / f).read_text("utf-8").splitlines()]
            for f in ("validation.jsonl", "train.jsonl")
        )


class Recorder:
    """Wraps a linear and keeps the largest |x| seen per input channel."""

    def __init__(self, lin) -> None:
        self.lin, self.amax = lin, None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m = x.abs().amax(0)
        self.amax = m if self.amax is None else torch.maximum(self.amax, m)
        return self.lin(x)


def calibrate(exact: LeanLlama, posts: list[list[int]]) -> list[torch.Tensor]:
    """Per-input-channel activation maxima of every layer matrix (model order)."""
    layers = exact.layers
    exact.layers = [tuple(Recorder(lin) for lin in layer) for layer in layers]
    for ids in posts:
        exact.prefill(ids, 1, len(ids), every_position=True)
    amax = [rec.amax for layer in exact.layers for rec in layer]
    exact.layers = layers
    return amax


def smoothquant(model, exact: LeanLlama, amax, alpha: float | None) -> LeanLlama:
    """fp16-weight sampler whose layer matrices run in int8 (the LM head stays fp16)."""
    lean = LeanLlama(model, quantize=True)
    lins = []
    for w, a in zip(matrices(exact)[:-1], amax, strict=True):
        smooth = None
        if alpha is not None:
            smooth = a.clamp(min=1e-5) ** alpha / w.abs().amax(0).clamp(min=1e-5) ** (1 - alpha)
        lins.append(Int8Linear(w, smooth))
    lean.layers = [tuple(lins[i : i + len(SLOTS)]) for i in range(0, len(lins), len(SLOTS))]
    return lean


def fidelity(model, tok, exact: LeanLlama, fp16: LeanLlama, args) -> None:
    held_out, train = split(args.archive)
    ids_of = lambda t: [tok.bos_token_id or 0, *tok(t, add_special_tokens=False).input_ids][:128]  # noqa: E731
    amax = calibrate(exact, [ids_of(t) for t in train[:100]])
    paths = {"exact fp32": exact, "fp16 weights (default)": fp16}
    for a in args.alphas.split(","):
        alpha = None if a == "none" else float(a)
        name = "int8, plain" if alpha is None else f"int8, SmoothQuant a={alpha}"
        paths[name] = smoothquant(model, exact, amax, alpha)
    loss, agree, kl, same = ({name: 0.0 for name in paths} for _ in range(4))
    count = 0
    greedy = SamplingOptions(temperature=0, max_new_tokens=30)
    for i, text in enumerate(held_out):
        ids = ids_of(text)
        target = torch.tensor(ids[1:])
        count += len(target)
        for name, lean in paths.items():  # exact first: the reference
            logits = lean.prefill(ids[:-1], 1, len(ids), every_position=True)[0]
            logp = logits.log_softmax(-1)
            run = _greedy(lean, ids[:4], greedy) if i < args.greedy else None
            if lean is exact:
                ref_logp, ref_top1, ref_run = logp, logits.argmax(-1), run
            loss[name] += F.cross_entropy(logits, target, reduction="sum").item()
            agree[name] += (logits.argmax(-1) == ref_top1).sum().item()
            kl[name] += (ref_logp.exp() * (ref_logp - logp)).sum().item()
            same[name] += run is not None and run == ref_run
    print(f"\nagainst exact fp32 on {len(held_out)} validation posts of {args.archive} "
          f"({count} tokens; SmoothQuant calibrated on 100 training posts):")  # fmt: skip
    base = math.exp(loss["exact fp32"] / count)
    for name in paths:
        ppl = math.exp(loss[name] / count)
        print(f"  {name:26s} perplexity {ppl:8.2f} ({100 * (ppl / base - 1):+7.2f}%)  top-1 "
              f"{100 * agree[name] / count:5.1f}%  KL {kl[name] / count:.4f} nats/token  "
              f"greedy identical {same[name]:.0f}/{min(args.greedy, len(held_out))}")  # fmt: skip


def main() -> None:
    args = parse_args()
    hf_logging.set_verbosity_error()
    machine(args)
    folder = resolve_base("embedded")[0]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    exact, fp16 = LeanLlama(model, torch.float32), LeanLlama(model, quantize=True)
    if args.only != "fidelity":
        kernels(exact, fp16, args)
    if args.only != "kernels":
        fidelity(model, AutoTokenizer.from_pretrained(folder), exact, fp16, args)


if __name__ == "__main__":
    main()
