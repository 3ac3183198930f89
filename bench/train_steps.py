"""Step throughput at the model's shapes, fp32: the huggingtweets step vs tweettwin's steps.

    flock /tmp/bench.lock .venv/bin/python bench/train_steps.py [--emulate-avx2] [--rounds 2]
                                                                [--compile]

Interleaves one optimizer step of each recipe per round (so a busy neighbour slows them alike),
measures the fp32 matmul peak before and after each round and reports tokens/s and MFU (FLOPs the
step really needs, bench/train.py's count, against the highest peak seen). A quick check of the
fp32 path on either CPU class; bench/train.py does the full archive comparison. ``--compile``
adds tweettwin's default step under ``torch.compile`` (``train --compile``) and prints how long
its first step took (compiling; Inductor's cache makes a second process faster).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from avx2 import rerun_limited  # noqa: E402

rerun_limited("--emulate-avx2")

import torch  # noqa: E402
from train import flops_per_token, matmul_peak  # noqa: E402

from tweettwin.ml.base_model import load_base  # noqa: E402
from tweettwin.ml.loss import PostLM  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--emulate-avx2", action="store_true")
    ap.add_argument("--compile", action="store_true", help="add the default step compiled")
    args = ap.parse_args()
    torch.manual_seed(0)
    model, _, _ = load_base("embedded")
    layers = model.model.layers
    s = {
        "layer": sum(p.numel() for p in layers[0].parameters()),
        "layers": len(layers),
        "d": model.config.hidden_size,
        "vocab": model.config.vocab_size,
    }
    opt = torch.optim.AdamW(list(model.parameters()), lr=1e-6, fused=True)  # state made once

    # torch.compile is lazy: this compiles on its first call (the warm-up below times it)
    compiled_net = torch.compile(PostLM(model, dtype=torch.float32)) if args.compile else None

    def step(
        freeze_lower: float, rows: int, seq: int, hf_loss: bool, embed=True, compiled=False
    ) -> int:
        for p in model.parameters():
            p.requires_grad_(True)
        for layer in layers[: int(freeze_lower * len(layers))]:
            layer.requires_grad_(False)
        model.model.embed_tokens.requires_grad_(embed)  # tied: the LM head too
        x = torch.randint(0, s["vocab"], (rows, seq))
        if hf_loss:
            loss = model(input_ids=x, labels=x).loss
        elif compiled:
            loss = compiled_net(x, labels=x)
        else:
            loss = PostLM(model, dtype=torch.float32, detach_inputs=freeze_lower > 0)(x, labels=x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return rows * seq

    n, half = s["layers"], s["layers"] - s["layers"] // 2
    configs = {  # name: ((freeze_lower, rows, seq, HF loss), FLOPs per token)
        "huggingtweets (1 x 1024, full, HF loss)": (
            (0.0, 1, 1024, True),
            flops_per_token(s, 1024, n, True),
        ),
        "tweettwin full (2 x 256)": ((0.0, 2, 256, False), flops_per_token(s, 256, n, True)),
        "tweettwin --freeze-lower 0.5": ((0.5, 2, 256, False), flops_per_token(s, 256, half, True)),
        # step shapes and a frozen (tied) embedding: candidates for the fp32 path
        "tweettwin full (4 x 256)": ((0.0, 4, 256, False), flops_per_token(s, 256, n, True)),
        "tweettwin full (2 x 512)": ((0.0, 2, 512, False), flops_per_token(s, 512, n, True)),
        "tweettwin embeddings frozen (2 x 256)": (
            (0.0, 2, 256, False, False),
            flops_per_token(s, 256, n, False),
        ),
    }
    if args.compile:
        configs["tweettwin full (2 x 256), torch.compile"] = (
            (0.0, 2, 256, False, True, True),
            flops_per_token(s, 256, n, True),
        )
    peaks = [matmul_peak(torch.float32)]
    print(
        f"capability {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads",
        flush=True,
    )
    for name, (spec, _) in configs.items():  # warm-up: kernels, allocator, optimizer state
        start = time.perf_counter()
        step(*spec)
        if "compile" in name:
            print(f"first compiled step (compiling): {time.perf_counter() - start:.0f} s")
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (spec, _) in configs.items():
            start = time.perf_counter()
            tokens = step(*spec)
            best[name] = max(best.get(name, 0.0), tokens / (time.perf_counter() - start))
        peaks.append(matmul_peak(torch.float32))
    peak = max(peaks)
    print(f"fp32 matmul peak {peak:.0f} GFLOP/s (max of {[round(p) for p in peaks]})")
    for name, (_, per_token) in configs.items():
        mfu = best[name] * per_token / 1e9 / peak
        print(f"{name:<42} {best[name]:7.1f} tok/s {per_token / 1e6:6.0f} MFLOP/tok  MFU {mfu:.0%}")


if __name__ == "__main__":
    main()
