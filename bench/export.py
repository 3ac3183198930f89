"""GGUF export of the embedded base model (SmolLM2-135M), per quant: export time, file size, load
time and decode speed in llama.cpp (the xllamacpp CPU wheel), perplexity and top-1 agreement on a
held-out text against the Hugging Face model; and tweettwin's own sampler's decode speed.

    flock /tmp/bench.lock python bench/export.py [--quants f16,q8_0] [--tokens 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ml.llama_runtime import LlamaCpp  # noqa: E402
from tests.ml.test_export_gguf import HELD_OUT, hf_logprobs  # noqa: E402
from tweettwin.publish.export import QUANTS, export_model  # noqa: E402


def cpu() -> dict:
    model = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if "Model name" in ln)
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    return {"model": model, "torch_capability": torch.backends.cpu.get_cpu_capability()}


def runtime_speed(llama: LlamaCpp, prompt: str, tokens: int) -> float:
    """Decode tokens/s in llama.cpp (its own timing of the generation phase)."""
    out = llama._complete(
        {"prompt": prompt, "n_predict": tokens, "temperature": 0.0, "ignore_eos": True,
         "cache_prompt": False}
    )  # fmt: skip
    return float(out["timings"]["predicted_per_second"])


def twin_speed(folder: Path, prompt: str, tokens: int, batch: int) -> float:
    from tweettwin.ml.sampler import SamplingOptions
    from tweettwin.ml.twin import Twin

    twin = Twin.load(folder)
    ids = [twin.sep_id, *twin.tokenizer(prompt, add_special_tokens=False).input_ids]
    opts = SamplingOptions(temperature=0.0, max_new_tokens=tokens)
    twin.sampler.sample(ids, batch, opts, stop_ids=set())  # warm-up
    started = time.perf_counter()
    outs = twin.sampler.sample(ids, batch, opts, stop_ids=set())
    return sum(len(o) for o in outs) / (time.perf_counter() - started)


def one_quant(folder, quant, out_dir, ids, ref, args) -> dict:
    started = time.perf_counter()
    path = export_model(folder, quant=quant, output=out_dir / f"smol-{quant}.gguf").path
    export_s = time.perf_counter() - started
    llama = LlamaCpp(path, threads=args.threads)
    scores = llama.score(ids)
    ref_logp, ref_top1 = ref
    return {
        "quant": quant,
        "mb": round(path.stat().st_size / 1e6, 1),
        "export_s": round(export_s, 1),
        "load_s": round(llama.load_seconds, 2),
        "ppl": round(math.exp(-np.mean(scores.logprobs)), 3),
        "ppl_vs_hf": round(math.exp(-np.mean(scores.logprobs) + np.mean(ref_logp)), 4),
        "top1_agree": round(float(np.mean(np.array(scores.top1) == np.array(ref_top1))), 3),
        "tok_s": round(runtime_speed(llama, "My dream is", args.tokens), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quants", default=",".join(QUANTS))
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tweettwin.ml.embedded import embedded_dir

    folder = embedded_dir()
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    ids = [
        tok.convert_tokens_to_ids(tok.eos_token),
        *tok(HELD_OUT, add_special_tokens=False).input_ids,
    ]
    ref_logp, ref_top1, _ = hf_logprobs(model, ids)
    report = {"cpu": cpu(), "threads": args.threads, "held_out_tokens": len(ids) - 1,
              "hf_ppl": round(math.exp(-np.mean(ref_logp)), 3), "quants": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for quant in args.quants.split(","):
            row = one_quant(folder, quant, Path(tmp), ids, (ref_logp, ref_top1), args)
            report["quants"].append(row)
            if not args.json:
                print(row, flush=True)
    for batch in (1, 10):
        report[f"twin_tok_s_batch{batch}"] = round(
            twin_speed(folder, "My dream is", args.tokens, batch), 1
        )
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
