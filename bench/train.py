"""Benchmark training: the huggingtweets recipe vs tweettwin's default, per archive and per path.

    flock /tmp/bench.lock .venv/bin/python bench/train.py
        [--archives andreruffert,alrocar,trump-2016] [--paths auto,fp32] [--fp32]
        [--quick] [--variant KEY=VALUE,...] [--skip-recipe] [--skip-default]
        [--emulate-avx2] [--trump-posts 1200] [--keep DIR] [--recipe-keeps-memory]

For each archive (``x-archive/<handle>.zip`` from ../shared/data, ``mastodon-<handle>`` for a
Mastodon export there, ``trump-<year>``: a seeded sample of ``--trump-posts`` of that year's posts
from the large corpus, before cleaning; or the path of your own archive),
prepared once, then trained by:

(a) huggingtweets: HF Trainer, full fine-tune, fp32, batch 1, 1024-token blocks, lr 1.372e-4,
    cosine, no warm-up, 4 shuffled epochs packed into one text (``--quick``: 1 epoch).
(b) tweettwin's default ``TrainConfig()`` on each compute path in ``--paths`` ('auto' is what
    this machine measured fast, ml/precision.py; 'fp32' forces the path AVX2-only CPUs take;
    ``--fp32`` is ``--paths fp32``), plus any ``--variant`` configs on the first path.

Every final model is scored the same way: each validation post as ``S text S``, fp32, the loss on
the text and the closing separator. Printed: the CPU and its capability, the fp32 and bf16 matmul
peaks (measured before and after the runs; the higher one is used, so a busy moment cannot
inflate MFU), then one row per archive and run with the wall-time ratio to the recipe and MFU:
the FLOPs the recipe really needs (frozen layers: forward only; frozen head: no weight gradient)
per second of training steps, against the peak of the dtype that run computed in.
The recipe runs in a fresh process with glibc's malloc settings, as on its own; tweettwin's runs
keep freed memory for reuse (ml/memory.py); ``--recipe-keeps-memory`` gives the recipe that too.
"archive->model" adds prepare's time to the run's wall time (loading, evaluations and saving
included). Absolute speeds on a shared machine drift; compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from avx2 import rerun_limited

rerun_limited("--emulate-avx2")  # the AVX2-only CPU class on an AVX-512 machine (bench/avx2.py)

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
TRUMP_SAMPLE = 1200  # posts drawn from the year before cleaning: ~1,000 kept, ~26k tokens


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


def archive_source(name: str, tmp: Path, trump_posts: int = TRUMP_SAMPLE) -> Path:
    """``trump-<year>`` (2009-2017, 2019, 2020: a seeded sample of that year's posts),
    ``mastodon-<handle>`` (an account export folder), ``<handle>`` (an X archive zip), or a path
    ``prepare`` reads (a file, folder or zip of your own)."""
    if Path(name).exists():
        return Path(name)
    if name.startswith("trump-"):
        return _trump_year(name, tmp, trump_posts)
    if name.startswith("mastodon-"):
        src = SHARED / "mastodon" / name.split("-", 1)[1]
    else:
        src = SHARED / "x-archive" / f"{name}.zip"
    if not src.exists():
        sys.exit(f"{src} not found: the benchmark needs ../shared/data/ (or give a path)")
    return src


def _trump_year(name: str, tmp: Path, trump_posts: int) -> Path:
    year = name.split("-", 1)[1]
    src = SHARED / "large" / "trump-tta-2009-2017" / f"{year}.json"
    if year in ("2019", "2020"):  # one file for both years; created_at ends with the year
        src = SHARED / "large" / "trump-tta-2019-2020" / "trump_tweets.json"
    if not src.exists():
        sys.exit(f"{src} not found: the benchmark needs ../shared/data/large/")
    items = json.loads(src.read_text(encoding="utf-8"))
    items = [i for i in items if str(i.get("created_at", "")).endswith(year)]
    random.Random(0).shuffle(items)
    out = tmp / f"{name}.json"  # the file name becomes the dataset's handle
    out.write_text(json.dumps(items[:trump_posts]), encoding="utf-8")
    return out


def prepare_dataset(
    archive: str, out: Path, fraction: float, trump_posts: int = TRUMP_SAMPLE
) -> tuple[Path, float]:
    from tweettwin.ingest.prepare import prepare

    src = archive_source(archive, out, trump_posts)
    start = time.perf_counter()
    data = prepare([src], out / "data").output
    seconds = time.perf_counter() - start
    if fraction < 1:  # --quick: a seeded subset of the training posts (validation kept whole)
        lines = (data / "train.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        random.Random(0).shuffle(lines)
        (data / "train.jsonl").write_text(
            "".join(lines[: int(len(lines) * fraction)]), encoding="utf-8"
        )
        manifest = json.loads((data / "manifest.json").read_text())
        manifest["content_hash"] = None  # edited on purpose: skip the loader's hash check
        (data / "manifest.json").write_text(json.dumps(manifest))
    return data, seconds


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


def shapes() -> dict:
    """Per-layer parameter count, depth, width and vocabulary of the embedded base model."""
    from tweettwin.ml.base_model import load_base

    model, _, _ = load_base("embedded")
    layers = model.model.layers
    return {
        "layer": sum(p.numel() for p in layers[0].parameters()),
        "layers": len(layers),
        "d": model.config.hidden_size,
        "vocab": model.config.vocab_size,
    }


def flops_per_token(s: dict, block: int, trained_layers: int, head_grad: bool, lora=False) -> float:
    """Forward everywhere; backward only through the trained layers (input grads, plus weight
    grads unless LoRA), the head's input grad, and its weight grad when the head is trained.
    Attention scores/values: 4 * d * block per layer forward, twice that backward."""
    head = 2 * s["d"] * s["vocab"]
    attn = 4 * s["d"] * block
    forward = s["layers"] * (2 * s["layer"] + attn) + head
    per_trained = (2 if lora else 4) * s["layer"] + 2 * attn
    backward = trained_layers * per_trained + head + (head if head_grad else 0)
    return forward + backward


def recipe_process(data_dir: Path, out: Path, epochs: int, s: dict, keep_memory: bool) -> dict:
    """``huggingtweets`` in a fresh process, as it runs on its own: glibc's malloc settings, not
    the ones tweettwin's model loads set for the rest of this process (ml/memory.py)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_recipe_child, (data_dir, out, epochs, s, keep_memory))


def _recipe_child(data_dir, out, epochs, s, keep_memory) -> dict:
    from tweettwin.ml.data import read_dataset

    if not keep_memory:
        os.environ["TWEETTWIN_MALLOC"] = "default"  # load_base leaves malloc alone
    return huggingtweets(read_dataset(data_dir), out, epochs, s)


def huggingtweets(data, out: Path, epochs: int, s: dict) -> dict:
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
    return {
        "name": "huggingtweets",
        "path": "fp32",
        "wall_s": wall,
        "train_s": wall,
        "tokens": tokens,
        "steps": len(blocks),
        "flops": tokens * flops_per_token(s, 1024, s["layers"], head_grad=True),
        "model_dir": out / "ht-model",
    }


def tweettwin_run(data_dir, out: Path, name: str, path: str, overrides: dict, s: dict) -> dict:
    from tweettwin.cli.progress import TrainProgress
    from tweettwin.ml.train import train
    from tweettwin.train_config import TrainConfig

    cfg = TrainConfig(save_dtype="float32", precision=path, **overrides)
    print(f"  {name}", file=sys.stderr, flush=True)
    with TrainProgress(sys.stderr, every_s=60, live=False) as progress:
        result = train(data_dir, out / name.replace(" ", "_"), cfg, on_event=progress)
    tr = result.training
    lora = cfg.method == "lora"
    trained = s["layers"] - int(cfg.freeze_lower * s["layers"])
    head_grad = not (cfg.freeze_embeddings or lora)
    per_token = flops_per_token(s, cfg.block_size, trained, head_grad, lora)
    return {
        "name": name,
        "path": tr["precision"],
        "wall_s": result.wall_time_s,
        "train_s": tr["train_time_s"],
        "tokens": result.metrics["tokens"],
        "steps": result.steps,
        "flops": result.metrics["tokens"] * per_token,
        "model_dir": out / name.replace(" ", "_"),
        "stop": result.stop_reason,
        "evals": [(e["step"], e["val_loss"]) for e in tr["evals"]],
    }


def parse_variant(text: str) -> dict:
    """``KEY=VALUE,...`` as TrainConfig overrides; an unknown key stops the run before any work."""
    from dataclasses import fields

    from tweettwin.train_config import TrainConfig

    known = {f.name for f in fields(TrainConfig)}
    out = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        if key not in known:
            raise SystemExit(f"--variant {text!r}: {key!r} is not a TrainConfig field")
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


def bench_archive(archive: str, args, s: dict) -> list[dict]:
    from tweettwin.ml.data import read_dataset

    with tempfile.TemporaryDirectory(prefix="tweettwin-bench-") as tmp:
        out = Path(tmp)
        data_dir, prep_s = prepare_dataset(
            archive, out, 0.5 if args.quick else 1.0, args.trump_posts
        )
        data = read_dataset(data_dir)
        print(
            f"\n== {archive}: {len(data.train)} train / {len(data.validation)} validation posts "
            f"(prepare {prep_s:.1f} s)",
            flush=True,
        )
        runs = []
        if not args.skip_recipe:
            epochs = 1 if args.quick else 4
            runs.append(recipe_process(data_dir, out, epochs, s, args.recipe_keeps_memory))
        quick = {"epochs": 1.0} if args.quick else {}
        for path in [] if args.skip_default else args.paths:
            runs.append(tweettwin_run(data_dir, out, f"default [{path}]", path, quick, s))
        for v in args.variant:
            runs.append(
                tweettwin_run(data_dir, out, v, args.paths[0], {**quick, **parse_variant(v)}, s)
            )
        for r in runs:
            r["val_loss"] = score(r["model_dir"], data)
            r["archive"], r["prepare_s"] = archive, prep_s
            print(f"  {r['name']}: held-out {r['val_loss']:.4f} in {r['wall_s']:.0f} s", flush=True)
        if args.keep:  # KEEP/<archive>/{data,<run>}: bench/quality.py-style scoring afterwards
            import shutil

            shutil.copytree(data_dir, args.keep / archive / "data", dirs_exist_ok=True)
            for r in runs:
                dest = args.keep / archive / Path(r["model_dir"]).name
                shutil.copytree(r["model_dir"], dest, dirs_exist_ok=True)
        return runs


def print_table(rows: list[dict], peaks: dict) -> None:
    """One row per archive and run: wall time vs the recipe's, held-out loss vs its, and MFU."""
    head = ("archive", "run", "path", "wall s", "x recipe", "arch->model", "tok/s", "steps")
    head += ("held-out", "vs recipe", "MFU")
    fmt = "{:<12} {:<44} {:>5} {:>7} {:>8} {:>11} {:>6} {:>5} {:>9} {:>9} {:>5}"
    print("\n" + fmt.format(*head))
    for archive in dict.fromkeys(r["archive"] for r in rows):
        group = [r for r in rows if r["archive"] == archive]
        ht = next((r for r in group if r["name"] == "huggingtweets"), None)
        for r in group:
            tps = r["tokens"] / r["train_s"] if r["train_s"] else 0
            mfu = r["flops"] / r["train_s"] / 1e9 / peaks[r["path"]] if r["train_s"] else 0
            ratio = f"{r['wall_s'] / ht['wall_s']:.2f}" if ht else "-"
            dloss = f"{r['val_loss'] - ht['val_loss']:+.4f}" if ht else "-"
            a2m = "-" if r is ht else f"{r['wall_s'] + r['prepare_s']:.0f}"
            print(
                fmt.format(
                    archive, r["name"][:44], r["path"], f"{r['wall_s']:.0f}", ratio, a2m,
                    f"{tps:.0f}", r["steps"], f"{r['val_loss']:.4f}", dloss, f"{mfu:.0%}",
                )
            )  # fmt: skip
    for r in rows:
        if "evals" in r:
            print(f"{r['archive']} {r['name']}: evals {r['evals']} stop={r['stop']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archives", default="andreruffert,alrocar,trump-2016")
    ap.add_argument("--paths", default="auto", help="compute paths for the default: auto,fp32")
    ap.add_argument("--fp32", action="store_true", help="force the fp32 path (= --paths fp32)")
    ap.add_argument("--quick", action="store_true", help="1 epoch each on half the train posts")
    ap.add_argument("--variant", action="append", default=[], help="extra config, KEY=VALUE,...")
    ap.add_argument("--skip-recipe", action="store_true")
    ap.add_argument("--skip-default", action="store_true", help="only the --variant runs")
    ap.add_argument("--keep", type=Path, help="copy each dataset and trained model here")
    ap.add_argument("--emulate-avx2", action="store_true", help="run as an AVX2-only CPU would")
    ap.add_argument(
        "--recipe-keeps-memory",
        action="store_true",
        help="give the recipe tweettwin's malloc setting too (ml/memory.py; default: glibc's)",
    )
    ap.add_argument(
        "--trump-posts", type=int, default=TRUMP_SAMPLE, help="posts drawn for a trump-YEAR archive"
    )
    args = ap.parse_args()
    args.paths = ["fp32"] if args.fp32 else args.paths.split(",")
    for v in args.variant:
        parse_variant(v)  # a typo fails now, not after the first archive's runs
    torch.manual_seed(0)
    from tweettwin.ml.env import cpu_model
    from tweettwin.ml.precision import choose

    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    auto = choose("auto", kind="train")
    print(
        f"CPU: {cpu_model()}; capability {torch.backends.cpu.get_cpu_capability()}; "
        f"{torch.get_num_threads()} threads; torch {torch.__version__}\n"
        f"matmul peak: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s; "
        f"'auto' trains in {auto}; paths run: {', '.join(args.paths)}",
        flush=True,
    )
    s = shapes()
    rows = [r for a in args.archives.split(",") for r in bench_archive(a, args, s)]
    after = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    peaks = {k: max(peaks[k], after[k]) for k in peaks}
    print(
        f"\nmatmul peak (max of before/after): fp32 {peaks['fp32']:.0f}, "
        f"bf16 {peaks['bf16']:.0f} GFLOP/s"
    )
    print_table(rows, peaks)
    print(f"\nmachine: {os.cpu_count()} CPUs; compare ratios, not absolute seconds")


if __name__ == "__main__":
    main()
