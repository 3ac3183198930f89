"""Weight layouts for the decode loop's matmuls.

Decoding a few rows at a time is bound by reading the weights (SmolLM2-135M: 538 MB in fp32 per
step), so how they are stored decides the speed:

- ``int8``: per-output-channel symmetric int8 weights run by fbgemm's dynamic-quantized linear
  (activations quantized per call, fp32 in and out): a quarter of the fp32 bytes and integer
  SIMD on any x86 CPU (AVX2 included). Lossy; the measured effect is in bench/generate.py.
- ``packed``: oneDNN's prepacked bf16 layout, where bf16 is native (faster than ``F.linear``).
- ``dense``: plain ``F.linear`` in the compute dtype (exact; the reference).
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import torch
import torch.nn.functional as F

LAYOUTS = ("dense", "packed", "int8")


@functools.cache
def int8_available() -> bool:
    """fbgemm's dynamic int8 linear works in this torch build (x86 CPUs); checked once."""
    try:
        w, x = torch.randn(8, 16), torch.randn(3, 16)
        ref = F.linear(x, w)
        return bool((Int8Linear(w)(x) - ref).abs().max() < 0.05 * ref.abs().max())
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


@functools.cache
def packed_available(dtype: torch.dtype) -> bool:
    """oneDNN prepacked bf16 weights: ~1.6x faster small-batch matmuls than F.linear on CPUs with
    native bf16 (measured on 2 AVX512-BF16 cores). Checked once on a tiny matrix."""
    if dtype != torch.bfloat16 or not torch.backends.mkldnn.is_available():
        return False
    try:
        w, x = torch.randn(8, 16).to(dtype), torch.randn(3, 16).to(dtype)
        out = PackedLinear(w)(x)
        return bool(torch.allclose(out.float(), F.linear(x, w).float(), atol=1e-2))
    except (AttributeError, RuntimeError):
        return False


class DenseLinear:
    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight.contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


class PackedLinear:
    def __init__(self, weight: torch.Tensor, rows_hint: int = 16) -> None:
        self.weight = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), rows_hint)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.weight, None, "none", [], "")


class Int8Linear:
    """y = x W^T with W stored int8 per output channel (scale = max |row| / 127)."""

    def __init__(self, weight: torch.Tensor) -> None:
        w = weight.detach().float().contiguous()
        scales = (w.abs().amax(dim=1) / 127.0).clamp_min(1e-12).double()
        zeros = torch.zeros(w.shape[0], dtype=torch.long)
        with _quiet():
            q = torch.quantize_per_channel(w, scales, zeros, 0, torch.qint8)
            self.packed = torch.ops.quantized.linear_prepack(q, None)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # reduce_range=True: 7-bit activations so AVX2's u8*s8 pair sums cannot saturate int16
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)


@contextlib.contextmanager
def _quiet():
    # torch marks the quantized-tensor constructors deprecated; the fbgemm kernels are current
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def make_linear(weight: torch.Tensor, layout: str, dtype: torch.dtype):
    """A callable computing ``F.linear(x, weight)`` with ``weight`` stored in ``layout``."""
    if layout == "int8":
        return Int8Linear(weight)
    w = weight.detach().to(dtype)
    return PackedLinear(w) if layout == "packed" else DenseLinear(w)
