"""Export a model folder for local runtimes: one GGUF file (llama.cpp, Ollama, LM Studio) and an
optional Ollama ``Modelfile`` (torch-free; the weights are converted in ``ml/gguf_export.py``).

    result = export_model("tweettwin/me/model", quant="q8_0", ollama=True)
    result.path, result.modelfile, result.ollama_commands

What can be checked without torch is checked here, before any weight is read: the architecture,
the quant, the output path (never overwritten without ``overwrite``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from tweettwin.errors import ConfigError, InputError, ModelError, OutputExistsError, require
from tweettwin.generate_options import SAMPLING_DEFAULTS
from tweettwin.model_folder import CONFIG_JSON, GENERATION_CONFIG, read_json_object

FORMATS = ("gguf",)
QUANTS = ("f16", "bf16", "q8_0", "q4_0")
DEFAULT_QUANT = "q8_0"
# config.json "architectures" entry -> what it is, for the error message
SUPPORTED_ARCHITECTURES = {"LlamaForCausalLM": "Llama family: SmolLM2, Llama 2/3, TinyLlama"}
MODELFILE = "Modelfile"


@dataclass(frozen=True)
class Sampling:
    """The twin's sampling defaults (from ``generation_config.json``), as runtimes name them."""

    temperature: float = SAMPLING_DEFAULTS["temperature"]
    top_p: float = SAMPLING_DEFAULTS["top_p"]
    top_k: int = SAMPLING_DEFAULTS["top_k"]
    max_new_tokens: int = SAMPLING_DEFAULTS["max_new_tokens"]
    min_p: float = SAMPLING_DEFAULTS["min_p"]

    @classmethod
    def from_generation_config(cls, gen: dict) -> Sampling:
        """As ``Twin`` reads it: no ``do_sample`` means greedy (transformers' default)."""
        greedy = not gen.get("do_sample", False)
        temp = gen.get("temperature")
        return cls(
            temperature=0.0 if greedy else float(1.0 if temp is None else temp),
            top_p=float(gen.get("top_p") or 1.0),
            top_k=int(gen.get("top_k") or 0),
            max_new_tokens=int(gen.get("max_new_tokens") or 64),
            min_p=float(gen.get("min_p") or 0.0),
        )


@dataclass
class ExportResult:
    path: Path
    quant: str
    bytes: int
    seconds: float
    name: str
    modelfile: Path | None = None
    ollama_commands: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "quant": self.quant,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "name": self.name,
            "modelfile": str(self.modelfile) if self.modelfile else None,
            "ollama_commands": self.ollama_commands,
        }


def twin_name(model_dir: Path) -> str:
    """A runtime-friendly name: the folder's (its parent's when it is called ``model``)."""
    folder = model_dir.resolve()
    raw = folder.parent.name if folder.name == "model" and folder.parent.name else folder.name
    name = re.sub(r"[^a-z0-9_.-]+", "-", raw.lower()).strip("-.")
    return name or "twin"


def check_architecture(model_dir: Path) -> dict:
    """The folder's ``config.json`` if GGUF export supports it, else an error naming what does."""
    config = read_json_object(model_dir / CONFIG_JSON, what="model config")
    archs = config.get("architectures") or [config.get("model_type") or "unknown"]
    supported = ", ".join(f"{a} ({what})" for a, what in SUPPORTED_ARCHITECTURES.items())
    if archs[0] not in SUPPORTED_ARCHITECTURES:
        raise ModelError(
            f"{model_dir}: architecture {archs[0]} cannot be exported to GGUF; "
            f"supported: {supported}"
        )
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if rope.get("rope_type", "default") not in ("default", None):
        raise ModelError(
            f"{model_dir}: rope scaling {rope.get('rope_type')!r} is not supported by the GGUF "
            "export yet; only plain RoPE models export"
        )
    if config.get("attention_bias") or config.get("mlp_bias"):
        raise ModelError(f"{model_dir}: Llama models with bias terms are not supported by export")
    return config


def check_options(fmt: str, quant: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: not supported; choose one of {', '.join(FORMATS)}")
    if quant not in QUANTS:
        raise ConfigError(f"--quant {quant}: not supported; choose one of {', '.join(QUANTS)}")


def check_output(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give -o a file name ending in .gguf")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")


def render_modelfile(gguf_file: Path, separator: str, sampling: Sampling) -> str:
    """An Ollama Modelfile for raw completion: the prompt as is, the separator ends a post."""
    stop = separator.replace("\\", "\\\\").replace('"', '\\"')
    lines = [
        f"FROM ./{gguf_file.name}",
        'TEMPLATE """{{ .Prompt }}"""',
        f'PARAMETER stop "{stop}"',
        f"PARAMETER temperature {sampling.temperature:g}",
        f"PARAMETER top_p {sampling.top_p:g}",
        f"PARAMETER top_k {sampling.top_k}",
        f"PARAMETER min_p {sampling.min_p:g}",
        f"PARAMETER num_predict {sampling.max_new_tokens}",
    ]
    return "\n".join(lines) + "\n"


def ollama_commands(name: str, modelfile: Path) -> list[str]:
    return [f'ollama create {name} -f "{modelfile}"', f'ollama run {name} "My dream is"']


def read_sampling(model_dir: Path) -> Sampling:
    gen = read_json_object(model_dir / GENERATION_CONFIG, missing_ok=True, what="generation config")
    return Sampling.from_generation_config(gen or {})


def export_model(
    model_dir,
    *,
    fmt: str = "gguf",
    quant: str = DEFAULT_QUANT,
    output=None,
    overwrite: bool = False,
    ollama: bool = False,
) -> ExportResult:
    """Write ``model_dir`` as one GGUF file (and an Ollama Modelfile beside it with ``ollama``)."""
    model_dir = Path(model_dir)
    check_options(fmt, quant)
    if not (model_dir / CONFIG_JSON).is_file():
        raise InputError(
            f"{model_dir}: no config.json; give a model folder made by `tweettwin train`"
        )
    check_architecture(model_dir)
    name = twin_name(model_dir)
    path = Path(output) if output else model_dir / f"{name}-{quant}.gguf"
    check_output(path, overwrite)
    modelfile = path.with_name(MODELFILE) if ollama else None
    if modelfile is not None:
        check_output(modelfile, overwrite)
    require("torch", "Exporting to GGUF", "ml")
    require("gguf", "Exporting to GGUF", "ml")
    from tweettwin.ml.gguf_export import write_gguf

    started = time.perf_counter()
    sampling = read_sampling(model_dir)
    separator = write_gguf(model_dir, path, quant=quant, name=name, sampling=sampling)
    result = ExportResult(path, quant, path.stat().st_size, 0.0, name)
    if modelfile is not None:
        from tweettwin.atomic import write_text

        write_text(modelfile, render_modelfile(path, separator, sampling))
        result.modelfile = modelfile
        result.ollama_commands = ollama_commands(name, modelfile)
    result.seconds = round(time.perf_counter() - started, 2)
    return result
