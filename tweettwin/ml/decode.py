"""How this machine decodes: the compute dtype and the matmul weights' layout, chosen by
measurement (``ml/precision.py``), never by assumption.

- bf16 is used only where its matmul measured faster than fp32 (``choose(kind="decode")``); on
  AVX2-only CPUs it is emulated and ~45x slower, so it is never picked there.
- int8 weights (``ml/linear.py``) are opt-in (``quantize=True``): measured faster but too
  lossy with per-channel dynamic quantization (see choose); the exact path is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tweettwin.errors import ConfigError

QUANTIZE_CHOICES = ("auto", "int8", "exact")


@dataclass(frozen=True)
class DecodePlan:
    dtype: torch.dtype  # compute dtype of the exact path (int8 matmuls run in fp32)
    quantize: bool


def _quantize_request(quantize: str | bool | None) -> str:
    if quantize is None or quantize is True or quantize is False:
        return {None: "auto", True: "int8", False: "exact"}[quantize]
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
    from tweettwin.ml.linear import int8_available
    from tweettwin.ml.precision import choose as choose_precision
    from tweettwin.ml.precision import torch_dtype

    if dtype is None:
        dtype = torch_dtype(choose_precision(precision, "cpu", kind="decode"))
    want = _quantize_request(quantize)
    if want == "int8" and not int8_available():
        raise ConfigError("int8 decoding needs fbgemm (x86 CPUs); use quantize='exact'")
    # auto = exact: bench/generate.py measured int8 1.30x faster than packed bf16 but lossy on
    # SmolLM2-135M (held-out perplexity 493 -> 1321, top-1 agreement 32%), so int8 is opt-in
    return DecodePlan(dtype=dtype, quantize=want == "int8")
