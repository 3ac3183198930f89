"""Weight layouts for the decode loop's matmuls.

Decoding a few rows at a time is bound by reading the weights (SmolLM2-135M: 538 MB in fp32 per
step), so how they are stored decides the speed:

- ``packed``: oneDNN's prepacked bf16 layout, where bf16 is native (faster than ``F.linear``).
- ``fp16``: fbgemm's fp16-weight GEMM: weights stored in half precision (half the bytes of
  fp32), activations fp32 in and out, fp32 sums. Weight-only, so the error is the weights'
  rounding to 11 significant bits (bf16 keeps 8); it needs fbgemm (x86, AVX2 is enough).
- ``dense``: plain ``F.linear`` in the compute dtype (exact; the reference).

Measured and rejected (bench/generate.py's kernel notes, 2 Zen 5 cores, one decode step of 10
rows through all 211 matrices): torch's weight-only int8 (``_weight_int8pack_mm``: 36 ms with
bf16 activations, seconds with fp32 ones) and int4 (``_weight_int4pack_mm_for_cpu``: 13 ms) lose
to packed bf16 (11 ms) and fp16 weights (13 ms; 17 ms against dense fp32's 62 ms under AVX2);
fbgemm's dynamic int8 (7.6 ms) quantizes the activations too and raised held-out perplexity by
~170%. On a real AVX2 CPU (Zen 2, ``bench/int8.py``) int4 is slower still than fp16 weights, and
int8 stays far from exact even with SmoothQuant's per-channel scales (README, *Sampling speed*).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

LAYOUTS = ("dense", "packed", "fp16")
FP16_MAX = 60000.0  # below float16's largest finite value (65504), with room for rounding


@functools.cache
def fp16_available() -> bool:
    """fbgemm's fp16-weight linear works in this torch build (x86 CPUs); checked once."""
    try:
        w, x = torch.randn(8, 16), torch.randn(3, 16)
        ref = F.linear(x, w)
        return bool((Fp16Linear(w)(x) - ref).abs().max() < 1e-2 * ref.abs().max())
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


class Fp16Linear:
    """y = x W^T, fp32 in and out, with W held by fbgemm in fp16 (converted in registers)."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.packed = torch.ops.quantized.linear_prepack_fp16(weight.detach().float(), None)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic_fp16(x, self.packed)


def make_linear(weight: torch.Tensor, layout: str, dtype: torch.dtype):
    """A callable computing ``F.linear(x, weight)`` with ``weight`` stored in ``layout``."""
    if layout == "fp16" and weight.abs().max() < FP16_MAX:
        return Fp16Linear(weight)
    if layout == "fp16":  # a weight fp16 cannot hold (none in SmolLM2) stays exact fp32
        return DenseLinear(weight.detach().float())
    w = weight.detach().to(dtype)
    return PackedLinear(w) if layout == "packed" else DenseLinear(w)
