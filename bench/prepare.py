"""Benchmark `tweettwin prepare`: posts/second and peak memory, on ONE pinned core.

    .venv/bin/python bench/prepare.py [--posts 1000000] [--cache DIR] [--skip-large]

Cases:
  large   ../shared/data/large/ (both Trump Twitter Archive folders, 40,961 posts) when present
  x-1M    a synthetic X archive zip with --posts posts (default 1,000,000), written to a temp
          dir (or --cache DIR, reused when already there): export-shaped entries with entities,
          retweets, replies, links, HTML entities, emoji, short posts and duplicates, split into
          tweets.js + tweets-partN.js of 250,000 posts each as real exports are.

Each measurement runs in a fresh subprocess pinned to one CPU (``os.sched_setaffinity``), so
peak RSS (``ru_maxrss``) is that of the measured work alone. Rows per case:
  json.loads   baseline: read every input file and json.loads it whole (no cleaning, no output)
  read only    ``open_source(...).posts`` iterated: the readers alone
  prepare      ``tweettwin.ingest.prepare`` end to end: read, clean, dedupe, split, write, hash
The ratio columns compare with the baseline measured in the same run and with the 50,000
posts/s target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TARGET = 50_000
PART_SIZE = 250_000


# --- the measured work (child process) ---------------------------------------------------------


def _pin_one_core() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _json_baseline(specs: list[str]) -> int:
    """json.loads every input file whole: the raw parsing cost, nothing else."""
    count = 0
    for spec in specs:
        path = Path(spec)
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if "/tweets" in name and name.endswith(".js"):
                        text = zf.read(name).decode("utf-8")
                        count += len(json.loads(text[text.index("[") :]))
        else:
            for f in sorted(path.glob("*.json")) if path.is_dir() else [path]:
                data = json.loads(f.read_text(encoding="utf-8"))
                count += len(data)
    return count


def _read_only(specs: list[str]) -> int:
    from tweettwin.ingest.sources import open_source

    count = 0
    for spec in specs:
        for _ in open_source(spec).posts:
            count += 1
    return count


def _prepare(specs: list[str], out: str) -> int:
    from tweettwin.ingest.prepare import prepare

    result = prepare(specs, out)
    return sum(a.downloaded for a in result.authors)


def child(mode: str, specs: list[str], out: str) -> None:
    cpu = _pin_one_core()
    start = time.perf_counter()
    if mode == "json":
        posts = _json_baseline(specs)
    elif mode == "read":
        posts = _read_only(specs)
    else:
        posts = _prepare(specs, out)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"posts": posts, "seconds": seconds, "peak_mb": peak_mb, "cpu": cpu}))


def measure(mode: str, specs: list[str], out: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--out", str(out), *map(str, specs)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the synthetic archive ---------------------------------------------------------------------

_SYLLABLES = "ka lo mi ne ru ta vo si pe da ri mo lu te na ba fi go he ju".split()
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
_EMOJI = ["😂", "🎉", "🔥", "❤️", "👍", "🌞", "🤔"]


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words = {"".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def _tweet(i: int, rng: random.Random, vocab: list[str], handles: list[str]) -> dict:
    n = rng.randint(1, 30)
    words = rng.choices(vocab, k=n)
    kind = rng.random()
    urls, mentions, reply = [], [], None
    if kind < 0.15:  # retweet, a third cut off with an ellipsis
        who = rng.choice(handles)
        mentions.append(who)
        words = ["RT", f"@{who}:", *words] + (["…"] if rng.random() < 0.33 else [])
    elif kind < 0.40:  # reply with the platform's leading @mentions
        lead = rng.sample(handles, rng.randint(1, 3))
        mentions += lead
        words = [f"@{h}" for h in lead] + words
        reply = str(10**17 + rng.randrange(10**17))
    if rng.random() < 0.35:
        url = f"https://t.co/{rng.randrange(36**10):010x}"
        urls.append(url)
        words.append(url)
    if rng.random() < 0.10:
        words.insert(
            rng.randrange(len(words) + 1), rng.choice(["&amp;", "&lt;3", "&gt;", "&quot;"])
        )
    if rng.random() < 0.10:
        words.append(rng.choice(_EMOJI))
    if rng.random() < 0.08:
        words.append("#" + rng.choice(vocab))
    text = " ".join(words)
    if rng.random() < 0.01:
        text = "good morning everyone"  # exact duplicates
    tid = str(10**18 + i * 7919)
    t = 1262304000 + i * 300  # five minutes apart from 2010 on
    tm = time.gmtime(t)
    entry = {
        "edit_info": {"initial": {"editTweetIds": [tid], "editsRemaining": "5",
                                  "editableUntil": "2022-01-01T00:00:00.000Z",
                                  "isEditEligible": False}},
        "retweeted": False,
        "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>',
        "entities": {
            "hashtags": [], "symbols": [],
            "user_mentions": [{"name": h.title(), "screen_name": h,
                               "indices": ["0", str(len(h) + 1)],
                               "id_str": str(1000 + len(h)), "id": str(1000 + len(h))}
                              for h in mentions],
            "urls": [{"url": u, "expanded_url": f"https://example.com/{u[-10:]}",
                      "display_url": f"example.com/{u[-10:]}",
                      "indices": [str(text.find(u)), str(text.find(u) + len(u))]} for u in urls],
        },
        "display_text_range": ["0", str(len(text))],
        "favorite_count": str(rng.randrange(50)),
        "id_str": tid,
        "truncated": False,
        "retweet_count": str(rng.randrange(10)),
        "id": tid,
        "created_at": f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:02d} "
                      f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000 {tm.tm_year}",
        "favorited": False,
        "full_text": text,
        "lang": "en",
    }  # fmt: skip
    if reply:
        entry["in_reply_to_status_id_str"] = entry["in_reply_to_status_id"] = reply
        entry["in_reply_to_user_id_str"] = entry["in_reply_to_user_id"] = "1001"
        entry["in_reply_to_screen_name"] = mentions[0]
    return {"tweet": entry}


def write_synthetic_archive(path: Path, posts: int, seed: int = 42) -> Path:
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    handles = [rng.choice(vocab) + str(k) for k in range(200)]
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        account = [{"account": {"username": "bench_user", "accountId": "1001",
                                "accountDisplayName": "Bench User", "email": None}}]  # fmt: skip
        zf.writestr(
            "data/account.js", "window.YTD.account.part0 = " + json.dumps(account, indent=2)
        )
        for part, start in enumerate(range(0, posts, PART_SIZE)):
            name = "data/tweets.js" if part == 0 else f"data/tweets-part{part}.js"
            with zf.open(name, "w", force_zip64=True) as fh:
                fh.write(f"window.YTD.tweets.part{part} = [ ".encode())
                for i in range(start, min(posts, start + PART_SIZE)):
                    entry = json.dumps(
                        _tweet(i, rng, vocab, handles), indent=2, separators=(",", " : ")
                    )
                    fh.write(((", " if i > start else "") + entry).encode())
                fh.write(b" ]")
    tmp.replace(path)
    return path


# --- driver --------------------------------------------------------------------------------------


def run_case(name: str, specs: list[str], work: Path) -> list[dict]:
    rows = []
    for mode, label in (
        ("json", "json.loads (baseline)"),
        ("read", "read only"),
        ("prepare", "prepare"),
    ):
        out = work / f"{name}-{mode}"
        print(f"  {name}: {label} ...", file=sys.stderr, flush=True)
        m = measure(mode, specs, out)
        rows.append({"case": name, "what": label, **m})
    base = rows[0]["seconds"]
    for row in rows:
        row["rate"] = row["posts"] / row["seconds"]
        row["vs_baseline"] = row["seconds"] / base
        row["vs_target"] = row["rate"] / TARGET
    return rows


def print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tweettwin prepare, one pinned core (target {TARGET:,} posts/s)")
    for col in ("case", "what", "posts", "seconds", "posts/s", "peak RSS MB",
                "time / json.loads time", "posts/s / 50k target"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("case", "what") else "right")
    for r in rows:
        table.add_row(r["case"], r["what"], f"{r['posts']:,}", f"{r['seconds']:.2f}",
                      f"{r['rate']:,.0f}", f"{r['peak_mb']:,.0f}", f"{r['vs_baseline']:.2f}x",
                      f"{r['vs_target']:.2f}x")  # fmt: skip
    Console(width=130).print(table)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--posts", type=int, default=1_000_000, help="posts in the synthetic archive")
    ap.add_argument("--cache", type=Path, help="keep/reuse the synthetic archive in this folder")
    ap.add_argument("--skip-large", action="store_true", help="skip the ../shared/data/large case")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("specs", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.specs, args.out)

    rows = []
    with tempfile.TemporaryDirectory(prefix="tweettwin-bench-") as tmp:
        work = Path(tmp)
        large = [SHARED / "large" / "trump-tta-2009-2017", SHARED / "large" / "trump-tta-2019-2020"]
        if not args.skip_large and all(p.is_dir() for p in large):
            rows += run_case("large", [str(p) for p in large], work)
        elif not args.skip_large:
            print(f"  (no {SHARED / 'large'}: skipping the large corpus)", file=sys.stderr)
        folder = args.cache or work
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / f"synthetic-x-{args.posts}.zip"
        if not archive.exists():
            print(f"  writing {archive} ({args.posts:,} posts) ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            write_synthetic_archive(archive, args.posts)
            mb = archive.stat().st_size / 1e6
            print(f"  ... {time.perf_counter() - start:.0f} s, {mb:.0f} MB",
                  file=sys.stderr)  # fmt: skip
        rows += run_case(f"x-{args.posts // 1000}k", [str(archive)], work)
    print_table(rows)


if __name__ == "__main__":
    main()
