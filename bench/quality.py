"""Benchmark post quality: the base model, a markovify bot, the huggingtweets recipe and
tweettwin's default, on the same data and split, scored by `tweettwin eval`'s metrics.

    .venv/bin/python bench/quality.py [--archive andreruffert --archive alrocar] [--samples 200]
                                      [--minutes 4] [--ht-epochs 1] [--variant KEY=VALUE,...]
                                      [--skip-recipe] [--keep DIR] [--kept DIR]
                                      [--temperatures 0.8,0.9,1.0] [--seeds 0,1,2]
                                      [--sampling min_p=0.05 ...]
                                      [--bootstrap 200]
                                      [--skip-embeddings] [--skip-base]

(a) base: the embedded SmolLM2-135M, untuned, with the post separator set up as in training;
(b) markovify: ``markovify.NewlineText`` (state size 2) on the training posts, sampled with its
    own overlap guard (``make_sentence()``: no 70% / 15-word overlap with the corpus) and without
    it (``test_output=False``) for the unguarded copy rate; a second row also holds it to
    tweettwin's copy guard, the rule the language models sample under;
(c) huggingtweets: ``bench/train.py``'s recipe (HF Trainer, 1024-token blocks, batch 1, lr
    1.372e-4), ``--ht-epochs`` epochs (it used 4);
(d) tweettwin default ``TrainConfig()``, capped at ``--minutes`` of training; (e) ``--variant``s.
``--kept DIR`` scores the models a ``bench/train.py --keep DIR`` run trained (same split) instead
of training (c)-(e) here; ``--temperatures`` samples each trained model at several
temperatures and ``--sampling`` with other settings (e.g. ``min_p=0.05``), and ``--seeds``
samples them with several seeds and prints the mean, the spread
and each system's paired difference from markovify; ``--bootstrap N`` recomputes the Fréchet
and kernel distances of each system and of the person's own training posts from markovify's on N
resamples of the held-out posts (is a lead more than the luck of which posts were held out?).
``AUC emb`` is the classifier on the embeddings alone (no style features): what an outside
real-vs-generated test on sentence embeddings measures. Language models get the novelty guard
built from the training posts (tweettwin's own index for
tweettwin models). A second table compares the embeddings on how well they separate each
system's posts from the real ones (cross-validated AUC on the embedding alone).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.train import parse_variant, prepare_dataset, recipe_process, shapes  # noqa: E402


def markov_posts(train: list[str], n: int, seed: int, guard: bool, novelty=None) -> list[str]:
    """``n`` markovify posts; ``novelty``: also drop what tweettwin's copy guard would drop."""
    import random

    import markovify

    random.seed(seed)  # markovify samples with the random module
    model = markovify.NewlineText("\n".join(train), state_size=2, well_formed=False)
    out: list[str] = []
    for _ in range(n * 20):
        text = model.make_sentence(tries=50, test_output=guard)
        if text and not (novelty and novelty.is_copy(text)):
            out.append(text)
        if len(out) == n:
            break
    return out


def lm_system(
    name, folder, data, args, extra_s: float = 0.0, sampling=None, overrides=None
) -> dict:
    """Held-out loss, samples (guard off, then the guard's keepers topped up) of a model folder;
    a folder without tweettwin's generation settings samples with ``sampling`` (tweettwin's);
    ``overrides`` (SamplingOptions fields, e.g. {"temperature": 1.0}) change the folder's own."""
    from dataclasses import replace

    from tweettwin.evaluate.model import _apply_guard
    from tweettwin.ml import evaluation as ev
    from tweettwin.ml.novelty import NoveltyIndex
    from tweettwin.ml.twin import Twin

    twin = Twin.load(folder)
    model, tok = ev.load_folder(folder)
    # as `tweettwin eval` scores it: a model trained with author tags sees them here too
    loss = ev.heldout_loss(model, tok, data.validation, twin.author_tags)
    del model
    if sampling is not None and not twin.training:
        twin.defaults = sampling
    own = twin.defaults
    if overrides:
        twin.defaults = replace(twin.defaults, **overrides)
        name = f"{name} {sampling_label(overrides)}"
    if twin.novelty is None:  # the same guard tweettwin would build from these training posts
        twin.novelty = NoveltyIndex.from_texts(r["text"] for r in data.train)
    t = time.perf_counter()
    unguarded = ev.sample_unguarded(twin, args.samples, args.seed)
    guarded, dropped = _apply_guard(twin, unguarded, args.seed, [None])
    sample_s = time.perf_counter() - t
    return {
        "name": name,
        "ppl": math.exp(loss),
        "guarded": guarded,
        "unguarded": unguarded,
        "dropped": dropped,
        "train_s": extra_s,
        "sample_s": sample_s,
        "sampling": own,
    }


def sampling_label(overrides: dict) -> str:
    short = {"temperature": "T"}
    return ",".join(f"{short.get(k, k)}={v:g}" for k, v in overrides.items())


def parse_sampling(spec: str) -> dict:
    """``temperature=1.0,min_p=0.05`` -> SamplingOptions overrides (numbers)."""
    from tweettwin.ml.sampler import SamplingOptions

    out = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        kind = type(getattr(SamplingOptions(), key.strip(), None))
        if kind not in (int, float):
            raise SystemExit(f"--sampling: {key!r} is not a sampling option (e.g. temperature)")
        out[key.strip()] = kind(value)
    return out


def train_tweettwin(data_dir, out: Path, name: str, minutes: float, overrides: dict) -> tuple:
    from tweettwin.ml.train import train
    from tweettwin.train_config import TrainConfig

    t = time.perf_counter()
    train(data_dir, out / name, TrainConfig(max_minutes=minutes, **overrides))
    return out / name, time.perf_counter() - t


def kept_systems(archive: str, out: Path, args) -> tuple[list[dict], object]:
    """The base model, markovify and every model a ``bench/train.py --keep`` run left in
    ``KEPT/<archive>/`` (same data and split), scored without training anything again."""
    from tweettwin.ml.base_model import load_base
    from tweettwin.ml.data import read_dataset

    data = read_dataset(args.kept / archive / "data")
    print(f"{archive}: {len(data.train)} train / {len(data.validation)} validation posts (kept)")
    model, tok, _ = load_base("embedded")
    model.save_pretrained(out / "base")
    tok.save_pretrained(out / "base")
    folders = sorted(p for p in (args.kept / archive).iterdir() if p.name != "data" and p.is_dir())
    trained, sampling = [], None  # the recipe's folder has no sampling settings: last, as ours
    for folder in sorted(folders, key=lambda p: p.name == "ht-model"):
        name = "huggingtweets (4 ep)" if folder.name == "ht-model" else folder.name
        for over in args.sampling:
            trained.append(lm_system(name, folder, data, args, sampling=sampling, overrides=over))
        sampling = sampling or trained[-1]["sampling"]
    rows = [] if args.skip_base else [base_system(out, data, args, sampling)]
    rows += markov_rows([r["text"] for r in data.train], args)
    return rows + trained, data


def base_system(out: Path, data, args, sampling) -> dict:
    return lm_system("base model (untuned)", out / "base", data, args, sampling=sampling)


def markov_rows(train: list[str], args) -> list[dict]:
    """markovify with its own overlap guard, and also held to tweettwin's copy guard (no post
    that repeats a training post or an 8-word run of one): the same rule the twin samples under."""
    from tweettwin.ml.novelty import NoveltyIndex

    rows = []
    unguarded = markov_posts(train, args.samples, args.seed, guard=False)  # the same for both
    index = NoveltyIndex.from_texts(train)
    systems = [("markovify (own overlap guard)", None), ("markovify + copy guard", index)]
    for name, novelty in systems:
        t = time.perf_counter()
        guarded = markov_posts(train, args.samples, args.seed, guard=True, novelty=novelty)
        rows.append(
            {
                "name": name,
                "ppl": None,
                "guarded": guarded,
                "unguarded": unguarded,
                "dropped": None,
                "train_s": 0.0,
                "sample_s": time.perf_counter() - t,
            }
        )
    return rows


def systems_for(archive: str, out: Path, args) -> tuple[list[dict], object]:
    from tweettwin.ml.base_model import load_base
    from tweettwin.ml.data import read_dataset

    data_dir = prepare_dataset(archive, out, 1.0)[0]
    data = read_dataset(data_dir)
    train = [r["text"] for r in data.train]
    print(
        f"{archive}: {len(data.train)} train / {len(data.validation)} validation posts", flush=True
    )
    model, tok, _ = load_base("embedded")
    model.save_pretrained(out / "base")
    tok.save_pretrained(out / "base")
    tweettwin = []
    for label, overrides in [("default", {})] + [(v, parse_variant(v)) for v in args.variant]:
        print(f"training tweettwin {label}...", flush=True)
        folder, secs = train_tweettwin(
            data_dir, out, f"tt-{len(tweettwin)}", args.minutes, overrides
        )
        for over in args.sampling:
            tweettwin.append(lm_system(f"tweettwin {label}", folder, data, args, secs, None, over))
    sampling = tweettwin[0]["sampling"]  # the others sample as tweettwin's default does
    rows = [] if args.skip_base else [base_system(out, data, args, sampling)]
    rows += markov_rows(train, args)
    if not args.skip_recipe:
        print("training the huggingtweets recipe...", flush=True)
        # bench/train.py's way: its own process, glibc's malloc settings, FLOPs counted
        ht = recipe_process(Path(data.path), out, args.ht_epochs, shapes(), keep_memory=False)
        name = f"huggingtweets ({args.ht_epochs} ep)"
        rows.append(lm_system(name, ht["model_dir"], data, args, ht["wall_s"]))
    rows.extend(tweettwin)
    return rows, data


def score(rows, data, args) -> dict:
    """Each row's eval scores (in place); returns the embeddings scored, for --bootstrap."""
    import numpy as np

    from tweettwin.evaluate.core import headline, score_posts
    from tweettwin.evaluate.embed import embedder

    real = [r["text"] for r in data.validation]
    train = [r["text"] for r in data.train]
    embed, seen = embedder(args.embedding), {}

    def kept_embed(texts):  # score_posts embeds each set once; keep them for the bootstrap
        seen[tuple(texts)] = vec = np.asarray(embed(texts))
        return vec

    for i, row in enumerate(rows):
        t = time.perf_counter()
        scores = score_posts(
            real, row["guarded"], train, kept_embed, unguarded=row["unguarded"],
            seed=args.seed, reference=i == 0,  # the same for every system: scored once
        )  # fmt: skip
        row.update(headline(scores), scores=scores, score_s=time.perf_counter() - t)
    return {"real": seen[tuple(real)]} | {r["name"]: seen[tuple(r["guarded"])] for r in rows}


def print_bootstrap(vectors: dict, data, args) -> None:
    """How much of each system's distance from markovify's (own guard) is the luck of which
    posts were held out: both distances recomputed on ``--bootstrap`` resamples of the held-out
    posts (same resample for both), with as many of the person's own training posts as a
    system beside them. A 95% interval that spans 0 means this held-out set cannot rank them."""
    import random

    import numpy as np

    from tweettwin.evaluate.embed import embedder
    from tweettwin.evaluate.metrics import frechet_distance, kernel_distance

    real = vectors["real"]
    train = [r["text"] for r in data.train]
    own = random.Random(args.seed).sample(train, min(args.samples, len(train)))
    systems = {n: v for n, v in vectors.items() if n != "real"}
    systems["own training posts"] = np.asarray(embedder(args.embedding)(own))
    markov = next(n for n in systems if n.startswith("markovify (own"))
    rng = np.random.default_rng(args.seed)
    scale = {"FD": (frechet_distance, 1.0), "KD": (kernel_distance, 1e3)}
    diffs = {n: {key: [] for key in scale} for n in systems if n != markov}
    for _ in range(args.bootstrap):
        r = real[rng.integers(0, len(real), len(real))]
        for key, (distance, times) in scale.items():
            base = distance(r, systems[markov])
            for name in diffs:
                diffs[name][key].append((distance(r, systems[name]) - base) * times)
    print(
        f"\nsystem - markovify (own guard) over {args.bootstrap} resamples of the held-out posts "
        "(KD x 1000): mean [95% interval], share of resamples where the system is closer"
    )
    for name, d in diffs.items():
        cells = []
        for key, values in d.items():
            v = np.asarray(values)
            lo, hi = np.percentile(v, [2.5, 97.5])
            cells.append(f"{key} {v.mean():+.4f} [{lo:+.4f}, {hi:+.4f}] {np.mean(v < 0):4.0%}")
        print(f"{name:<34} " + "   ".join(cells))


def compare_embeddings(rows, data, args) -> dict:
    """AUC on each embedding alone (plus style alone), per system: which separates best."""
    import numpy as np

    from tweettwin.evaluate import metrics, style
    from tweettwin.evaluate.embed import EMBEDDERS, embedder
    from tweettwin.ml.base_model import load_base

    real = [r["text"] for r in data.validation]
    base = load_base("embedded")[:2]
    table = {}
    for name in EMBEDDERS:
        t = time.perf_counter()
        embed = embedder(name, base=lambda: base)
        vec_real = embed(real)
        table[name] = [
            metrics.classifier_auc(vec_real, embed(r["guarded"]), seed=args.seed)["auc"]
            for r in rows
        ]
        table[name].append(time.perf_counter() - t)
    sty = np.asarray(style.feature_rows(real))
    table["style only"] = [
        metrics.classifier_auc(sty, np.asarray(style.feature_rows(r["guarded"])))["auc"]
        for r in rows
    ] + [0.0]
    return table


def print_tables(archive: str, rows, emb: dict, args) -> None:
    head = (
        "system",
        "train s",
        "gen s",
        "ppl",
        "FD",
        "KD e-3",
        "AUC",
        "AUC emb",
        "copy",
        "copy ung",
        "drop",
        "dist-2",
        "s-BLEU",
    )
    print(f"\n== {archive}: {args.samples} samples each, embedding {args.embedding} ==")
    print(
        "{:<34} {:>7} {:>6} {:>7} {:>7} {:>6} {:>6} {:>7} {:>6} {:>8} {:>5} {:>6} {:>6}".format(
            *head
        )
    )
    for r in rows:
        ppl = f"{r['ppl']:.2f}" if r["ppl"] else "-"
        drop = "-" if r["dropped"] is None else str(r["dropped"])
        print(
            f"{r['name']:<34} {r['train_s']:7.0f} {r['sample_s']:6.0f} {ppl:>7} "
            f"{r['frechet_distance']:7.4f} {r['kernel_distance'] * 1e3:6.2f} "
            f"{r['classifier_auc']:6.3f} {_emb_auc(r):7.3f} {r['copy_rate']:6.1%} "
            f"{r['copy_rate_unguarded']:8.1%} {drop:>5} {r['distinct_2']:6.3f} "
            f"{r['self_bleu']:6.3f}"
        )
    real = rows[0]["scores"]["diversity"]["real"]
    print(
        f"{'real held-out posts':<34} {'':>7} {'':>6} {'':>7} {'':>7} {'':>6} {'':>6} {'':>7}"
        f" {'':>6} {'':>8} {'':>5} {real['distinct_2']:6.3f} {real['self_bleu']:6.3f}"
    )
    ref = rows[0]["scores"]["distribution"]["reference"]
    if ref:  # the person's own posts scored like a system: the floor at this sample size
        name = f"real training posts ({ref['posts']})"
        print(
            f"{name:<34} {'':>7} {'':>6} {'':>7} {ref['frechet_distance']:7.4f} "
            f"{ref['kernel_distance'] * 1e3:6.2f} {ref['classifier_auc']:6.3f}"
        )
    if not emb:
        return
    print("\nembedding-only AUC per system (higher = separates real from generated better):")
    print(f"{'embedding':<12}" + "".join(f" {r['name'][:16]:>16}" for r in rows) + "   seconds")
    for name, values in emb.items():
        print(f"{name:<12}" + "".join(f" {v:16.3f}" for v in values[:-1]) + f" {values[-1]:8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--archive",
        action="append",
        help="an archive bench/train.py knows (handle, mastodon-HANDLE, trump-YEAR, a path)"
        " [default: andreruffert, alrocar]",
    )
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-base", action="store_true", help="leave out (a) the untuned model")
    ap.add_argument("--skip-embeddings", action="store_true", help="no per-embedding AUC table")
    ap.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        help="resample the held-out posts N times: is each distance from markovify's real?",
    )
    ap.add_argument("--seeds", help="several sampling seeds (with --kept), e.g. 0,1,2: a summary")
    ap.add_argument("--minutes", type=float, default=4.0, help="tweettwin training cap")
    ap.add_argument("--ht-epochs", type=int, default=1, help="huggingtweets epochs (it used 4)")
    ap.add_argument("--embedding", default="minilm")
    ap.add_argument("--variant", action="append", default=[], help="tweettwin KEY=VALUE,...")
    ap.add_argument("--kept", type=Path, help="score the models a bench/train.py --keep run left")
    ap.add_argument("--skip-recipe", action="store_true", help="leave out (c) huggingtweets")
    ap.add_argument("--keep", type=Path, help="copy each dataset and tweettwin default model here")
    ap.add_argument(
        "--temperatures", help="sample the trained models at each of these, e.g. 0.8,0.9,1.0"
    )
    ap.add_argument(
        "--sampling",
        action="append",
        default=[],
        help="sample the trained models with these settings too, e.g. min_p=0.05 or "
        "temperature=0.9,min_p=0.02 (repeat for several; '' = the folder's own)",
    )
    args = ap.parse_args()
    args.seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    temps = [{"temperature": float(t)} for t in (args.temperatures or "").split(",") if t]
    args.sampling = temps + [parse_sampling(s) for s in args.sampling] or [{}]
    if len(args.seeds) > 1 and not args.kept:
        ap.error("--seeds with several seeds scores kept models: add --kept DIR")
    for archive in args.archive or ["andreruffert", "alrocar"]:
        by_seed = {}
        for seed in args.seeds:  # the embedding table once: its hidden-state row is slow
            args.seed = seed
            table = seed == args.seeds[0] and not args.skip_embeddings
            by_seed[seed] = run_archive(archive, args, table)
        if len(by_seed) > 1:
            print_seed_summary(archive, by_seed)


def run_archive(archive: str, args, embeddings: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="tweettwin-quality-") as tmp:
        started = time.perf_counter()
        pick = kept_systems if args.kept else systems_for
        rows, data = pick(archive, Path(tmp), args)
        vectors = score(rows, data, args)
        emb = compare_embeddings(rows, data, args) if embeddings else {}
        print_tables(f"{archive}, seed {args.seed}", rows, emb, args)
        if args.bootstrap:
            print_bootstrap(vectors, data, args)
        if args.keep:  # KEEP/<archive>/{data,model}: `tweettwin eval` finds the data beside
            import shutil

            shutil.copytree(data.path, args.keep / archive / "data", dirs_exist_ok=True)
            shutil.copytree(Path(tmp) / "tt-0", args.keep / archive / "model", dirs_exist_ok=True)
        print(f"({archive}: {time.perf_counter() - started:.0f} s in all)", flush=True)
        return rows


def print_seed_summary(archive: str, by_seed: dict[int, list[dict]]) -> None:
    """Mean and spread over seeds, and each system's paired difference from markovify (own
    guard) on the same seed: one seed moves AUC by up to +-0.06, so single runs mislead. KD is
    the kernel distance x 1000."""
    import statistics

    def spread(values: list[float]) -> str:
        return f"{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}"

    seeds = sorted(by_seed)
    names = [r["name"] for r in by_seed[seeds[0]]]
    markov = next(n for n in names if n.startswith("markovify (own"))
    print(f"\n== {archive}: mean +- sd over seeds {seeds}; diff = system - markovify own guard ==")
    head = ("system", "words", "FD", "KD", "AUC", "AUC emb", "FD diff", "KD diff", "AUC diff")
    print(("{:<34} {:>6}" + " {:>15}" * 7).format(*head))
    keys = ("frechet_distance", "kernel_distance", "classifier_auc")
    scale = {"kernel_distance": 1e3}
    for name in names:
        rows = [_summary_values(next(r for r in by_seed[s] if r["name"] == name)) for s in seeds]
        mk = [_summary_values(next(r for r in by_seed[s] if r["name"] == markov)) for s in seeds]
        cells = [spread([r[k] * scale.get(k, 1) for r in rows]) for k in keys]
        cells.append(spread([r["auc_embedding_only"] for r in rows]))
        if name != markov:
            cells += [
                spread([(r[k] - m[k]) * scale.get(k, 1) for r, m in zip(rows, mk, strict=True)])
                for k in keys
            ]
        words = statistics.mean(r["words"] for r in rows)
        print(f"{name:<34} {words:6.1f} " + " ".join(f"{c:>15}" for c in cells))
    refs = [by_seed[s][0]["scores"]["distribution"]["reference"] for s in seeds]
    if all(refs):  # the person's own training posts, drawn anew per seed: the floor
        cells = [spread([ref[k] * scale.get(k, 1) for ref in refs]) for k in keys]
        name = f"real training posts ({refs[0]['posts']})"
        print(f"{name:<34} {'':>6} " + " ".join(f"{c:>15}" for c in cells))
    print(f"{'real held-out posts':<34} {_words(by_seed[seeds[0]][0], 'real'):6.1f}")


def _summary_values(row: dict) -> dict:
    return {
        "frechet_distance": row["frechet_distance"],
        "kernel_distance": row["kernel_distance"],
        "classifier_auc": row["classifier_auc"],
        "auc_embedding_only": _emb_auc(row),
        "words": _words(row, "generated"),
    }


def _emb_auc(row: dict) -> float:
    """The classifier's AUC on the post embeddings alone (no style features): what an outside
    real-vs-generated test on sentence embeddings measures."""
    return row["scores"]["distribution"]["auc_embedding_only"]


def _words(row: dict, side: str) -> float:
    """Mean words per post of a scored row's samples (``generated``) or the ``real`` posts."""
    return row["scores"]["style"]["lengths"]["words"][side]["mean"]


if __name__ == "__main__":
    main()
