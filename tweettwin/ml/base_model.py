"""Resolve and load a base model: ``embedded`` (offline default), a local folder or a Hub id.

Every base ends up as a local folder (the converted embedded model, the folder itself, or a Hub
snapshot), loaded with ``trust_remote_code=False`` and safetensors only. The tokenizer is then
set up for posts: one separator token that starts every post and ends it (see ``use_separator``).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import processors
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from tweettwin.errors import ModelError
from tweettwin.ml import embedded
from tweettwin.ml.memory import keep_freed_memory
from tweettwin.model_folder import weights_hash
from tweettwin.paths import public_path
from tweettwin.weights import check_folder_weights

EMBEDDED = "embedded"
# Preferred post separators, best first: the pretraining document separator of GPT-2/SmolLM-style
# vocabularies. The embedded GGUF calls it "unk", but id 0 is what SmolLM2 saw between documents.
SEPARATOR_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>")


@dataclass
class BaseModelInfo:
    """Lineage of a base model: what it was, where it came from, which exact weights."""

    name: str  # what the user asked for ("embedded", a hub id or a path)
    model_id: str  # upstream id (embedded: the Hub model the GGUF was made from)
    path: str  # local folder it was loaded from
    license: str | None
    weights_sha256: str
    source: str  # "embedded" | "hub" | "local"
    num_parameters: int = 0

    def to_dict(self) -> dict:
        info = asdict(self)  # recorded in training.json, which may be published
        for key in ("name", "model_id", "path"):
            info[key] = public_path(info[key])
        return info


def resolve_base(name: str) -> tuple[Path, str, str | None, str]:
    """``(folder, model_id, license, source)`` of a base-model spec (a Hub id is downloaded)."""
    if name == EMBEDDED:
        gguf = embedded.gguf_path()
        wheel = f"{embedded.WHEEL} {embedded.WHEEL_VERSION}"
        model_id = f"{embedded.MODEL_ID} (GGUF Q4_1 from {wheel}, {gguf.name})"
        return embedded.embedded_dir(), model_id, embedded.LICENSE, EMBEDDED
    path = Path(name).expanduser()
    if path.is_dir():
        return path, str(path.resolve()), _card_license(path), "local"
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(
            f"{name}: not a model folder (expected a folder with config.json and *.safetensors)"
        )
    return _download(name), name, None, "hub"


def _download(model_id: str) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "README.md"]
    try:
        return Path(snapshot_download(model_id, allow_patterns=patterns))
    except Exception as ex:  # offline, unknown repo, gated, network down: all end the same way
        reason = type(ex).__name__
        raise ModelError(
            f"could not download {model_id} from the Hugging Face Hub ({reason}); check the id "
            f"and your "
            "connection, or use --base-model embedded for the offline default"
        ) from None


def _card_license(folder: Path) -> str | None:
    readme = folder / "README.md"
    if readme.is_file():
        match = re.search(
            r"^license:\s*(\S+)", readme.read_text(encoding="utf-8", errors="replace"), re.M
        )
        if match:
            return match.group(1)
    return None


def load_base(name: str, dtype: torch.dtype = torch.float32):
    """Load ``(model, tokenizer, BaseModelInfo)``; the tokenizer is already set up for posts."""
    folder, model_id, license_, source = resolve_base(name)
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    except Exception as ex:
        raise ModelError(
            f"{name}: cannot read its config.json ({type(ex).__name__}); is it a model folder?"
        ) from None
    if getattr(config, "is_encoder_decoder", False):
        raise ModelError(
            f"{name} is an encoder-decoder model; tweettwin needs a causal (decoder-only) LM"
        )
    check_folder_weights(folder)  # a truncated file: one line, not a loader traceback
    keep_freed_memory()  # training and scoring steps reuse their pages (ml/memory.py)
    weights = weights_hash(folder, cache=source == EMBEDDED)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder, dtype=dtype, trust_remote_code=False, use_safetensors=True
        )
    except (ValueError, OSError) as ex:
        message = str(ex)
        if "Unrecognized configuration class" in message or "AutoModelForCausalLM" in message:
            kind = getattr(config, "model_type", "unknown")
            raise ModelError(
                f"{name} ({kind}) is not a causal language model; pick a text-generation model"
            ) from None
        first_line = (message.splitlines() or [type(ex).__name__])[0][:200]
        raise ModelError(f"{name}: cannot load the weights ({first_line})") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except Exception as ex:
        raise ModelError(
            f"{name}: cannot load its tokenizer ({type(ex).__name__}); a fast tokenizer is needed"
        ) from None
    use_separator(tokenizer, model)
    info = BaseModelInfo(
        name=name,
        model_id=model_id,
        path=str(folder),
        license=license_,
        weights_sha256=weights,
        source=source,
        num_parameters=sum(p.numel() for p in model.parameters()),
    )
    return model, tokenizer, info


def choose_separator(tokenizer) -> str:
    vocab = tokenizer.get_vocab()
    for token in SEPARATOR_CANDIDATES:
        if token in vocab:
            return token
    if tokenizer.eos_token:
        return tokenizer.eos_token
    raise ModelError("the base model's tokenizer has no end-of-text token to separate posts with")


def use_separator(tokenizer, model=None) -> str:
    """Make one token the post separator: bos = eos = pad, prepended to every encoded text.

    So ``pipeline("text-generation", model=DIR)("My dream is")`` sees ``<sep> My dream is``, exactly
    as in training, stops at the next ``<sep>``, and decoding skips it.
    """
    if not hasattr(tokenizer, "backend_tokenizer"):
        raise ModelError("the base model has no fast (tokenizers) tokenizer; tweettwin needs one")
    sep = choose_separator(tokenizer)
    sep_id = tokenizer.convert_tokens_to_ids(sep)
    tokenizer.bos_token = tokenizer.eos_token = tokenizer.pad_token = sep
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{sep} $A", pair=f"{sep} $A {sep} $B", special_tokens=[(sep, sep_id)]
    )
    if getattr(tokenizer, "add_eos_token", False):
        tokenizer.add_eos_token = False
    tokenizer.chat_template = None  # a fine-tuned post model is not a chat model
    if model is not None:
        for cfg in (model.config, model.generation_config):
            cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = sep_id
    return sep


def check_memory(num_parameters: int, method: str) -> None:
    """Refuse early when training clearly cannot fit in RAM (weights, grads, AdamW, activations)."""
    per_param = 16 if method == "full" else 6
    needed = num_parameters * per_param + 2 * 2**30  # + ~2 GB activations/logits at default sizes
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if needed > available * 1.5:  # page cache counts as unavailable here: be lenient
        raise ModelError(
            f"not enough memory: training this {num_parameters / 1e6:.0f}M-parameter model needs "
            f"about "
            f"{needed / 2**30:.1f} GB, {available / 2**30:.1f} GB free; try --method lora or a "
            f"smaller model"
        )
