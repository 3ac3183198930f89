"""Load test of `tweettwin serve` on loopback: a fixed number of /v1/completions requests from
1, 4 and 8 concurrent clients against a twin of the embedded base model, then a burst of twice
the queue bound to count the 503s.

    flock /tmp/bench.lock .venv/bin/python bench/serve.py [MODEL_DIR] [--requests 16] [--n 2]

Without MODEL_DIR a twin is trained once (examples/sample-archive.zip, embedded base, --steps
optimizer steps) into bench/out/serve-twin. Reports p50/p95 latency, posts/s, errors and 503s;
writes bench/out/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def quick_twin(steps: int) -> Path:
    """A twin of the embedded base on the sample archive (cached between runs)."""
    model = OUT / "serve-twin" / "sample" / "model"
    if (model / "training.json").is_file():
        return model
    from tweettwin.pipeline.make_step import make
    from tweettwin.train_config import TrainConfig

    ws = OUT / "serve-twin"
    make(
        [ROOT / "examples" / "sample-archive.zip"],
        model,
        workspace=ws,
        overwrite=True,
        train_config=TrainConfig(max_steps=steps),
        progress=False,
    )
    return model


def start(model_dir: Path, port: int, queue: int):
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "tweettwin",
        "--workspace",
        str(OUT / "serve-ws"),
        "serve",
        str(model_dir),
        "--port",
        str(port),
        "--queue-size",
        str(queue),
    ]
    proc = subprocess.Popen(cmd, env=env)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


async def one(client, model: str, i: int, n: int, tokens: int) -> tuple[int, float, int]:
    body = {"model": model, "prompt": "My dream is", "n": n, "max_tokens": tokens, "seed": i}
    t = time.perf_counter()
    r = await client.post("/v1/completions", json=body)
    posts = len(r.json().get("choices", [])) if r.status_code == 200 else 0
    return r.status_code, time.perf_counter() - t, posts


async def level(url, model, clients: int, requests: int, n: int, tokens: int) -> dict:
    sem = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def limited(i):
            async with sem:
                return await one(client, model, i, n, tokens)

        t = time.perf_counter()
        results = await asyncio.gather(*(limited(i) for i in range(requests)))
        wall = time.perf_counter() - t
    ok = sorted(lat for code, lat, _ in results if code == 200)
    p95 = ok[min(len(ok) - 1, round(0.95 * (len(ok) - 1)))] if ok else None
    return {
        "clients": clients,
        "requests": requests,
        "p50_s": statistics.median(ok) if ok else None,
        "p95_s": p95,
        "posts_per_s": sum(p for *_, p in results) / wall,
        "errors": sum(code not in (200, 503) for code, *_ in results),
        "503s": sum(code == 503 for code, *_ in results),
        "wall_s": wall,
    }


async def burst(url, model, size: int, n: int, tokens: int) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        results = await asyncio.gather(*(one(client, model, i, n, tokens) for i in range(size)))
    codes = [code for code, *_ in results]
    return {
        "requests": size,
        "ok": codes.count(200),
        "503s": codes.count(503),
        "errors": sum(c not in (200, 503) for c in codes),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", nargs="?", type=Path)
    ap.add_argument("--requests", type=int, default=16, help="requests per concurrency level")
    ap.add_argument("--n", type=int, default=2, help="posts per request")
    ap.add_argument("--tokens", type=int, default=40, help="max_tokens per post")
    ap.add_argument("--queue", type=int, default=4, help="the server's --queue-size")
    ap.add_argument("--steps", type=int, default=20, help="training steps of the quick twin")
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    model_dir = args.model_dir or quick_twin(args.steps)
    proc = start(model_dir, args.port, args.queue)
    url = f"http://127.0.0.1:{args.port}"
    try:
        model = httpx.get(f"{url}/v1/models").json()["data"][0]["id"]
        asyncio.run(level(url, model, 1, 2, args.n, args.tokens))  # warm-up: load the model
        rows = [
            asyncio.run(level(url, model, c, args.requests, args.n, args.tokens)) for c in (1, 4, 8)
        ]
        over = asyncio.run(burst(url, model, 2 * args.queue, args.n, args.tokens))
    finally:
        proc.terminate()
        proc.wait(30)
    report = {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "model_dir": str(model_dir),
        "n": args.n,
        "max_tokens": args.tokens,
        "queue_size": args.queue,
        "levels": rows,
        "burst": over,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serve.json").write_text(json.dumps(report, indent=2))
    print(f"CPU: {report['cpu']} ({report['cores']} cores); n={args.n}, max_tokens={args.tokens}")
    print("clients  requests  p50 s  p95 s  posts/s  errors  503s")
    for r in rows:
        print(
            f"{r['clients']:7d}  {r['requests']:8d}  {r['p50_s']:5.2f}  {r['p95_s']:5.2f}  "
            f"{r['posts_per_s']:7.2f}  {r['errors']:6d}  {r['503s']:4d}"
        )
    print(
        f"burst of {over['requests']} (2 x queue {args.queue}): {over['ok']} answered, "
        f"{over['503s']} got 503, {over['errors']} errors"
    )


if __name__ == "__main__":
    main()
