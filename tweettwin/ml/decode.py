"""How this machine decodes: the compute dtype and the matmul weights' layout, chosen by
measurement (``ml/precision.py``), never by assumption.

- bf16 is used only where its matmul measured faster than fp32 (``choose(kind="decode")``); on
  AVX2-only CPUs it is emulated and ~45x slower, so it is never picked there.
- Where the compute dtype is fp32, the matmul weights are held in fp16 by default (fbgemm,
  ``ml/linear.py``): weight-only, activations and sums stay fp32. bench/generate.py measured it
  3.6x faster than dense fp32 matmuls under AVX2 with held-out perplexity within 0.1% of exact.
  ``quantize='exact'`` (``--exact``) keeps the model's own weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tweettwin.errors import ConfigError

QUANTIZE_CHOICES = ("auto", "fp16", "exact")


@dataclass(frozen=True)
class DecodePlan:
    dtype: torch.dtype  # compute dtype of the exact path (fp16-weight matmuls run in fp32)
    quantize: bool  # fp16 weights


def _quantize_request(quantize: str | bool | None) -> str:
    if quantize is None or quantize is True or quantize is False:
        return {None: "auto", True: "fp16", False: "exact"}[quantize]
    value = str(quantize).strip().lower()
    if value not in QUANTIZE_CHOICES:
        raise ConfigError(
            f"quantize must be one of {', '.join(QUANTIZE_CHOICES)}, not {quantize!r}"
        )
    return value


def choose(
    precision: str | None = None,
    dtype: torch.dtype | None = None,
    quantize: str | bool | None = None,
) -> DecodePlan:
    """The plan for ``Twin.load``: an explicit ``dtype`` wins, then ``precision`` / measuring."""
    from tweettwin.ml.linear import fp16_available
    from tweettwin.ml.precision import choose as choose_precision
    from tweettwin.ml.precision import torch_dtype

    if dtype is None:
        dtype = torch_dtype(choose_precision(precision, "cpu", kind="decode"))
    want = _quantize_request(quantize)
    if want == "fp16" and not fp16_available():
        raise ConfigError("fp16-weight decoding needs fbgemm (x86 CPUs); use quantize='exact'")
    # auto: fp16 weights where the compute is fp32 (the win: half the bytes read per step). Where
    # bf16 is native, packed bf16 weights measured faster (11 vs 13 ms of matmuls per step)
    auto = dtype == torch.float32 and fp16_available()
    return DecodePlan(dtype=dtype, quantize=want == "fp16" or (want == "auto" and auto))
