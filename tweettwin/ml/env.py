"""What the run ran on: device, bf16 support, hardware and library versions (for training.json)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

import torch

from tweettwin.ml import memory


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16(device: torch.device) -> bool:
    """bf16 matmuls run natively (not emulated): CUDA with bf16, or a CPU with AVX512-BF16/AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return (
            bool(cpu_flags() & {"avx512_bf16", "amx_bf16"}) and torch.backends.mkldnn.is_available()
        )
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """'bf16' (autocast, fp32 master weights) or 'fp32': measured per machine (ml/precision.py)."""
    from tweettwin.ml.precision import choose

    return choose(precision, device, kind="train")


def hardware(device: torch.device, num_processes: int = 1) -> dict:
    info = {
        "device": device.type,
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "native_bf16": native_bf16(device),
        "malloc": memory.describe(),
        "num_processes": num_processes,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("tweettwin", "torch", "transformers", "peft", "accelerate"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out
