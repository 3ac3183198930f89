"""Benchmark sampling settings on post quality: one model folder, several settings, several seeds.

    .venv/bin/python bench/sampling.py MODEL_DIR [--setting temperature=0.9,top_p=1.0 ...]
                                       [--samples 200] [--seeds 3] [--embedding minilm]

Each setting samples ``--samples`` unprompted posts with the copy guard off per seed and scores
them against the model's held-out posts with `tweettwin eval`'s ``score_posts`` (classifier AUC on
embeddings + style features, Fréchet distance, distinct-2, copy rate). The table shows the mean
and spread over seeds: the AUC moves by a few hundredths between seeds on a few hundred posts, so
one seed cannot rank settings. Without ``--setting`` it compares tweettwin's defaults with a few
neighbours.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NEIGHBOURS = [
    "temperature=0.9",
    "temperature=0.8",
    "temperature=1.0",
    "temperature=0.9,top_p=0.95",
    "temperature=1.0,top_p=0.9",
]


def parse_setting(text: str) -> dict:
    out = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        out[key.strip()] = (
            int(value) if key.strip() in ("top_k", "max_new_tokens", "warm_up") else float(value)
        )
    return out


def score_setting(twin, inputs, embed, setting: dict, samples: int, seeds: int) -> dict:
    from tweettwin.evaluate.core import score_posts
    from tweettwin.ml.evaluation import CHUNK

    real = [r["text"] for r in inputs.validation]
    train = [r["text"] for r in inputs.train]
    rows, seconds = [], 0.0
    for seed in range(seeds):
        tick = time.perf_counter()
        posts: list[str] = []
        for start in range(0, samples, CHUNK):
            k = min(CHUNK, samples - start)
            posts += twin.generate(
                None, k, seed=seed * 100_003 + start, novelty=False, **setting
            ).posts
        seconds += time.perf_counter() - tick
        s = score_posts(real, posts, train, embed, seed=seed)
        rows.append(
            {
                "auc": s["distribution"]["classifier_auc"],
                "auc_emb": s["distribution"]["auc_embedding_only"],
                "auc_style": s["distribution"]["auc_style_only"],
                "fd": s["distribution"]["frechet_distance"],
                "distinct_2": s["diversity"]["generated"]["distinct_2"],
                "copy": s["memorization"]["guarded"]["rate"],
            }
        )
    summary = {k: statistics.mean(r[k] for r in rows) for k in rows[0]}
    summary["auc_sd"] = statistics.stdev(r["auc"] for r in rows) if len(rows) > 1 else 0.0
    summary["seconds"] = seconds / seeds
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--setting", action="append", help="KEY=VALUE,... (sampling options)")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--embedding", default="minilm")
    parser.add_argument("--dataset", help="dataset folder [default: the model's own]")
    args = parser.parse_args(argv)

    from tweettwin.evaluate.core import check_inputs
    from tweettwin.evaluate.embed import embedder
    from tweettwin.evaluate.model import cpu_name
    from tweettwin.ml.twin import Twin

    inputs = check_inputs(args.model_dir, args.dataset)
    twin = Twin.load(inputs.folder.path)
    embed = embedder(args.embedding)
    print(
        f"# {inputs.folder.path} on {cpu_name()}; {len(inputs.validation)} held-out posts, "
        f"{args.samples} samples x {args.seeds} seeds, guard off, {args.embedding}"
    )
    print(
        f"{'setting':32} {'AUC':>6} {'±sd':>5} {'emb':>6} {'style':>6} {'FD':>6} "
        f"{'dist-2':>6} {'copy':>5} {'s':>5}"
    )
    for text in args.setting or NEIGHBOURS:
        r = score_setting(twin, inputs, embed, parse_setting(text), args.samples, args.seeds)
        print(
            f"{text:32} {r['auc']:6.3f} {r['auc_sd']:5.3f} {r['auc_emb']:6.3f} "
            f"{r['auc_style']:6.3f} {r['fd']:6.3f} {r['distinct_2']:6.3f} {r['copy']:5.3f} "
            f"{r['seconds']:5.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
