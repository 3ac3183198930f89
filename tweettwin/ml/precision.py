"""Which compute dtype is fast here: measured once per machine, never assumed from flags.

On CPUs with AVX512-BF16/AMX a bf16 matmul is 2-4x faster than fp32; on AVX2-only CPUs
(AMD Zen 2/3, most Intel laptops) bf16 is emulated and ~45x *slower*. A CPU flag list says what
the silicon has, not what this torch build does with it, so we time both dtypes at the model's
shapes (a training-sized matmul, and the sampler's own decoding kernels at a decoding size), keep
the result in the user cache keyed by CPU, core count and torch version, and pick bf16 only where
it wins clearly.

Overrides, strongest first: an explicit ``precision`` argument ('bf16' / 'fp32', e.g. from
``--precision``), then ``$TWEETTWIN_PRECISION``, then the measurement. CUDA keeps its own rule
(bf16 where the GPU supports it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from tweettwin.errors import ConfigError

PRECISION_ENV = "TWEETTWIN_PRECISION"
CHOICES = ("auto", "bf16", "fp32")
CACHE_FILE = "precision.json"
# bf16 must beat fp32 by this much to be chosen: a tie is not worth bf16's rounding.
MARGIN = 1.15
# (rows, in, out): a training step's matmul and a 10-sample decoding step, at SmolLM2-135M's width.
TRAIN_SHAPE = (1024, 576, 1536)
DECODE_SHAPE = (10, 576, 1536)
# Bumped when what is measured changes, so older cache entries are measured again. 2: decoding
# times the sampler's kernels (fp16 weights / packed bf16), not plain matmuls: on an AMX Xeon a
# plain bf16 matmul at 10 rows ran about as fast as fp32 (102 vs 94 GFLOP/s), so sampling stayed
# on fp16 weights (130 GFLOP/s) while packed bf16 ran at 269 and sampled 1.27x faster.
MEASUREMENT = "2"


@dataclass(frozen=True)
class Peaks:
    """Measured throughput (GFLOP/s) per compute dtype: a training matmul, and a decoding
    step's matmul with the weights stored as the sampler stores them (:func:`decode_layout`)."""

    fp32_train: float
    bf16_train: float
    fp32_decode: float
    bf16_decode: float

    def bf16_wins(self, kind: str) -> bool:
        fp32, bf16 = (
            (self.fp32_train, self.bf16_train)
            if kind == "train"
            else (self.fp32_decode, self.bf16_decode)
        )
        return bf16 > MARGIN * fp32


def decode_layout(dtype: torch.dtype) -> str:
    """How the sampler stores its matmul weights by default for a compute dtype (ml/linear.py):
    fp16 weights under fp32 compute where fbgemm has them, prepacked bf16 where oneDNN does."""
    from tweettwin.ml.linear import fp16_available, packed_available

    if dtype == torch.float32:
        return "fp16" if fp16_available() else "dense"
    return "packed" if packed_available(dtype) else "dense"


def _gflops(
    shape: tuple[int, int, int], dtype: torch.dtype, layout: str | None = None, seconds=0.15
) -> float:
    """GFLOP/s of ``x @ w`` at ``shape``; ``layout``: ``w`` stored as ml/linear.py does."""
    from tweettwin.ml.linear import make_linear

    m, k, n = shape
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    if layout is None:
        run = lambda: torch.matmul(a, b)  # noqa: E731
    else:
        run = functools.partial(make_linear(b.t().float(), layout, dtype), a)
    run()  # first call: allocation, oneDNN kernel selection
    reps, start = 0, time.perf_counter()
    while True:
        run()
        reps += 1
        elapsed = time.perf_counter() - start
        # an emulated bf16 matmul can take 100 ms: stop after the time budget, not a count
        if elapsed >= seconds and reps >= 3:
            break
    return 2 * m * k * n * reps / elapsed / 1e9


def measure() -> Peaks:
    """Time fp32 and bf16 matmuls in this process (about a second)."""
    return Peaks(
        fp32_train=_gflops(TRAIN_SHAPE, torch.float32),
        bf16_train=_gflops(TRAIN_SHAPE, torch.bfloat16),
        fp32_decode=_gflops(DECODE_SHAPE, torch.float32, decode_layout(torch.float32)),
        bf16_decode=_gflops(DECODE_SHAPE, torch.bfloat16, decode_layout(torch.bfloat16)),
    )


def machine_key() -> str:
    """What the measurement depends on: the CPU, how many threads torch uses, the torch build."""
    from tweettwin.ml.env import cpu_flags, cpu_model

    parts = [
        cpu_model(),
        " ".join(sorted(cpu_flags())),
        str(torch.get_num_threads()),
        torch.__version__,
        torch.backends.cpu.get_cpu_capability(),
        MEASUREMENT,
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _cache_path() -> Path:
    from tweettwin.paths import cache_dir

    return cache_dir() / CACHE_FILE


def cached_peaks(*, refresh: bool = False) -> Peaks:
    """This machine's peaks, from the user cache or measured now and cached (best effort)."""
    path, key = _cache_path(), machine_key()
    entries: dict = {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        if not refresh and isinstance(entries.get(key), dict):
            return Peaks(**entries[key])
    except (OSError, ValueError, TypeError):
        entries = {}
    peaks = measure()
    if not isinstance(entries, dict):
        entries = {}
    entries[key] = asdict(peaks)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs a re-measurement next time
    return peaks


def requested(precision: str | None = None) -> str:
    """The user's request: the explicit argument unless 'auto', else $TWEETTWIN_PRECISION."""
    value = precision if precision not in (None, "auto") else os.environ.get(PRECISION_ENV)
    value = (value or "auto").strip().lower()
    if value not in CHOICES:
        raise ConfigError(
            f"precision must be one of {', '.join(CHOICES)}, not {value!r} "
            f"(from {'--precision' if precision not in (None, 'auto') else '$' + PRECISION_ENV})"
        )
    return value


def choose(
    precision: str | None = None, device: torch.device | str = "cpu", kind: str = "train"
) -> str:
    """'bf16' or 'fp32' for ``kind`` ('train' covers evaluation; 'decode' is sampling)."""
    device = torch.device(device)
    want = requested(precision)
    if want != "auto":
        return want
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type != "cpu":
        return "fp32"
    return "bf16" if cached_peaks().bf16_wins(kind) else "fp32"


def torch_dtype(precision: str) -> torch.dtype:
    return torch.bfloat16 if precision == "bf16" else torch.float32
