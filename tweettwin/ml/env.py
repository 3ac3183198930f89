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


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's name, with its x86 family and model: VMs often report a bare "AMD EPYC" for
    every generation (Zen 2 is family 23, Zen 3 and 4 family 25, Zen 5 family 26)."""
    fields: dict[str, str] = {}
    try:
        with open(cpuinfo, encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip() and fields:  # the first processor's block is enough
                    break
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']} model {fields['model']})"
    return name


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
