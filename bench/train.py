"""Benchmark training: the huggingtweets recipe vs tweettwin's default, same data, same base model.

    .venv/bin/python bench/train.py [--archive andreruffert] [--quick] [--variant KEY=VALUE,...]

(a) huggingtweets: HF Trainer, full fine-tune, fp32, batch 1, 1024-token blocks, lr 1.372e-4,
    cosine, no warm-up, 4 shuffled epochs packed into one text (``--quick``: 1 epoch).
(b) tweettwin's default ``TrainConfig()`` (``--quick``: 1 epoch), plus any ``--variant`` configs
    (e.g. ``--variant method=lora`` or ``--variant batch_size=8,learning_rate=2e-4``).
Both final models are scored the same way: every validation post as ``S text S``, fp32, the loss
on the text and the closing separator. Also measured in the same run: this machine's bf16 and fp32
matmul peaks, and each run's MFU (FLOPs the recipe really needs / training time / bf16 peak).
Absolute speeds on a shared machine drift; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def matmul_peak(dtype, reps: int = 5) -> float:
    """Best median GFLOP/s over the model's own matmul shapes (2048 tokens per step)."""
    best = 0.0
    for m, k, n in ((2048, 576, 1536), (2048, 1536, 576), (2048, 576, 576)):
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        for _ in range(2):
            a @ b
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
        best = max(best, 2 * m * k * n / sorted(times)[reps // 2] / 1e9)
    return best


def prepare_dataset(archive: str, out: Path, fraction: float) -> Path:
    from tweettwin.prepare import prepare

    src = SHARED / "x-archive" / f"{archive}.zip"
    if not src.exists():
        sys.exit(f"{src} not found: the benchmark needs ../shared/data/x-archive/")
    data = prepare([src], out / "data").output
    if fraction < 1:  # --quick: a seeded subset of the training posts (validation kept whole)
        lines = (data / "train.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        random.Random(0).shuffle(lines)
        (data / "train.jsonl").write_text(
            "".join(lines[: int(len(lines) * fraction)]), encoding="utf-8"
        )
        manifest = json.loads((data / "manifest.json").read_text())
        manifest["content_hash"] = None  # edited on purpose: skip the loader's hash check
        (data / "manifest.json").write_text(json.dumps(manifest))
    return data


def score(model_dir, data) -> float:
    """Held-out loss of a saved model, identical for every run (fp32, S text S, whole split)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tweettwin.ml.data import encode, eval_batches
    from tweettwin.ml.loss import PostLM

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    net = PostLM(model, dtype=torch.float32)
    total = n = 0.0
    with torch.no_grad():
        for ids, mask, labels in eval_batches(
            encode(tok, [r["text"] for r in data.validation]), tok.eos_token_id
        ):
            k = int((labels[:, 1:] != -100).sum())
            total += net(ids, labels=labels, attention_mask=mask).item() * k
            n += k
    return total / n


def huggingtweets(data, out: Path, epochs: int, sep_holder: dict) -> dict:
    """The huggingtweets recipe with HF Trainer (as it did), on the same base and separator."""
    from transformers import Trainer, TrainingArguments

    from tweettwin.ml.base_model import load_base

    model, tok, _ = load_base("embedded")
    sep = tok.eos_token_id
    ids = tok([r["text"] for r in data.train], add_special_tokens=False)["input_ids"]
    stream, rng = [], random.Random(0)
    for _ in range(epochs):  # 4 shuffled epochs packed into one text
        order = list(range(len(ids)))
        rng.shuffle(order)
        for i in order:
            stream += [sep] + ids[i]
    stream.append(sep)
    blocks = [stream[i : i + 1024] for i in range(0, len(stream) - 1023, 1024)]
    train_set = [{"input_ids": torch.tensor(b), "labels": torch.tensor(b)} for b in blocks]
    args = TrainingArguments(
        output_dir=str(out / "ht-trainer"),
        per_device_train_batch_size=1,
        learning_rate=1.372e-4,
        lr_scheduler_type="cosine",
        warmup_steps=0,
        num_train_epochs=1,
        use_cpu=True,
        save_strategy="no",
        report_to="none",
        logging_strategy="no",
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=42,
    )
    t = time.perf_counter()
    Trainer(model=model, args=args, train_dataset=train_set).train()
    wall = time.perf_counter() - t
    model.save_pretrained(out / "ht-model")
    tok.save_pretrained(out / "ht-model")
    tokens = len(blocks) * 1024
    flops = tokens * (6 * 134.5e6 + 12 * 30 * 576 * 1024)  # 6N + attention at 1024 context
    return {
        "name": "huggingtweets",
        "wall_s": wall,
        "train_s": wall,
        "tokens": tokens,
        "steps": len(blocks),
        "flops": flops,
        "model_dir": out / "ht-model",
    }


def tweettwin_run(data_dir, out: Path, name: str, overrides: dict) -> dict:
    from tweettwin.ml.train import train
    from tweettwin.train_config import TrainConfig

    cfg = TrainConfig(save_dtype="float32", **overrides)
    result = train(data_dir, out / name, cfg, progress=True)
    tr = result.training
    trainable_head = 0 if (cfg.freeze_embeddings or cfg.method == "lora") else 2
    per_token = (4 if cfg.method == "lora" else 6) * 106.0e6 + (4 + trainable_head) * 576 * 49152
    flops = result.metrics["tokens"] * (per_token + 12 * 30 * 576 * cfg.block_size)
    return {
        "name": name,
        "wall_s": result.wall_time_s,
        "train_s": tr["train_time_s"],
        "tokens": result.metrics["tokens"],
        "steps": result.steps,
        "flops": flops,
        "model_dir": out / name,
        "internal_best": result.metrics["best_val_loss"],
        "stop": result.stop_reason,
        "evals": [(e["step"], e["val_loss"]) for e in tr["evals"]],
    }


def parse_variant(text: str) -> dict:
    out = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                pass
        out[key] = (
            {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", default="andreruffert")
    ap.add_argument(
        "--quick", action="store_true", help="1 epoch each on half of the training posts"
    )
    ap.add_argument(
        "--variant", action="append", default=[], help="extra tweettwin config, KEY=VALUE,..."
    )
    ap.add_argument("--skip-recipe", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    from tweettwin.ml.data import read_dataset

    with tempfile.TemporaryDirectory(prefix="tweettwin-bench-") as tmp:
        out = Path(tmp)
        data_dir = prepare_dataset(args.archive, out, 0.5 if args.quick else 1.0)
        data = read_dataset(data_dir)
        peak_bf16, peak_fp32 = matmul_peak(torch.bfloat16), matmul_peak(torch.float32)
        print(
            f"matmul peak: bf16 {peak_bf16:.0f} GFLOP/s, fp32 {peak_fp32:.0f} GFLOP/s; "
            f"{len(data.train)} train / {len(data.validation)} validation posts",
            flush=True,
        )
        runs = []
        if not args.skip_recipe:
            runs.append(huggingtweets(data, out, 1 if args.quick else 4, {}))
        quick = {"epochs": 1.0} if args.quick else {}
        runs.append(tweettwin_run(data_dir, out, "tweettwin default", quick))
        for v in args.variant:
            runs.append(
                tweettwin_run(data_dir, out, f"tweettwin {v}", {**quick, **parse_variant(v)})
            )
        # the base model, with the post separator set up as in training, scored through a saved copy
        from tweettwin.ml.base_model import load_base

        m, tok, _ = load_base("embedded")
        m.save_pretrained(out / "base")
        tok.save_pretrained(out / "base")
        base = {
            "name": "base model (no training)",
            "wall_s": 0,
            "train_s": 0,
            "tokens": 0,
            "flops": 0,
            "model_dir": out / "base",
        }
        print("scoring...", flush=True)
        rows = [base] + runs
        for r in rows:
            r["val_loss"] = score(r["model_dir"], data)
        head = ("run", "wall s", "train s", "tok/s", "steps", "val loss", "ppl", "MFU")
        print("\n{:<40} {:>8} {:>8} {:>7} {:>6} {:>9} {:>7} {:>6}".format(*head))
        for r in rows:
            tps = r["tokens"] / r["train_s"] if r["train_s"] else 0
            mfu = r["flops"] / r["train_s"] / 1e9 / peak_bf16 if r["train_s"] else 0
            print(
                f"{r['name']:<40} {r['wall_s']:8.0f} {r['train_s']:8.0f} {tps:7.0f} "
                f"{r.get('steps', 0):6} {r['val_loss']:9.4f} {math.exp(r['val_loss']):7.2f} "
                f"{mfu:6.1%}"
            )
        if not args.skip_recipe:
            ht, tt = runs[0], runs[1]
            speedup = (tt["tokens"] / tt["train_s"]) / (ht["tokens"] / ht["train_s"])
            print(
                "\ntweettwin default vs huggingtweets: "
                f"wall time x{tt['wall_s'] / ht['wall_s']:.2f} "
                f"(target <= 0.25), held-out loss {tt['val_loss']:.4f} vs {ht['val_loss']:.4f} "
                f"({'equal or lower' if tt['val_loss'] <= ht['val_loss'] else 'HIGHER'}), "
                f"tokens/s x{speedup:.2f}"
            )
        for r in runs:
            if "evals" in r:
                print(f"{r['name']}: evals {r['evals']} stop={r['stop']}")


if __name__ == "__main__":
    main()
