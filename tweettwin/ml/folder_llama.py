"""Load a Llama-family model folder for sampling without importing ``transformers``.

Importing ``transformers``' tokenizer and Llama classes took ~2.4-2.8 s per process (AMD Zen 5,
2 cores; torch itself ~0.7-0.9 s), more than loading the weights and sampling 10 posts together. A
``Twin`` needs neither class: the lean sampler (ml/sampler.py) has its own decode loop and the
``tokenizers`` library does the word pieces. So a folder that this module reads exactly the way
``transformers`` would (a plain Llama config with default RoPE, one ``model.safetensors``, a
``tokenizer.json`` of a fast tokenizer, a ``generation_config.json``) loads as a
:class:`FolderLlama` and a :class:`FolderTokenizer`; any other folder goes through
``transformers`` as before (:func:`load` returns None). Tests hold both paths to the same
logits, token ids, text and posts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import torch

from tweettwin.model_folder import CONFIG_JSON, GENERATION_CONFIG

WEIGHTS = "model.safetensors"
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
# tokenizer classes whose transformers decode is the tokenizers library's own (no extra clean-up)
FAST_CLASSES = {
    "TokenizersBackend",
    "PreTrainedTokenizerFast",
    "GPT2Tokenizer",
    "GPT2TokenizerFast",
}
# what transformers' GenerationConfig assumes for a key its file leaves out
GENERATION_DEFAULTS = {
    "do_sample": False,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "min_p": None,
    "max_new_tokens": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "pad_token_id": None,
}
_REQUIRED = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "vocab_size",
    "rms_norm_eps",
    "max_position_embeddings",
)


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def rope_theta(cfg: dict) -> float | None:
    """The RoPE base of a config with plain (unscaled) RoPE, else None."""
    params = cfg.get("rope_parameters")
    if params is not None:  # transformers 5
        plain = isinstance(params, dict) and params.get("rope_type", "default") == "default"
        extra = set(params) - {"rope_type", "rope_theta"}
        return (
            float(params["rope_theta"]) if plain and not extra and "rope_theta" in params else None
        )
    if cfg.get("rope_scaling") or "rope_theta" not in cfg:
        return None
    return float(cfg["rope_theta"])


def plain_llama(cfg: dict) -> bool:
    """A Llama config that the lean sampler reproduces exactly and this module reads fully."""
    return (
        cfg.get("model_type") == "llama"
        and all(isinstance(cfg.get(k), int | float) for k in _REQUIRED)
        and cfg.get("hidden_act", "silu") == "silu"
        and not cfg.get("attention_bias", False)
        and not cfg.get("mlp_bias", False)
        and cfg.get("pretraining_tp", 1) == 1
        and cfg.get("partial_rotary_factor", 1.0) == 1.0
        and rope_theta(cfg) is not None
    )


def fast_tokenizer(tok_cfg: dict) -> bool:
    return (
        tok_cfg.get("tokenizer_class") in FAST_CLASSES
        and not tok_cfg.get("clean_up_tokenization_spaces", False)
        and not tok_cfg.get("auto_map")
    )


def damaged(name: str, detail: str) -> ValueError:
    return ValueError(
        f"{name} is damaged ({detail}): restore it from where the model came from, or train the "
        "model again"
    )


def read_settings(path: Path) -> dict[str, dict | None]:
    """The folder's config, generation config and tokenizer config (None where missing), read
    once per load. A damaged one is a ValueError naming it, whichever loader follows
    (``transformers`` would sample greedily without ``generation_config.json``'s settings, say).
    ``tokenizer.json`` is left to the tokenizers library, which reads it 20x faster than
    ``json`` (``read_tokenizer``)."""
    settings = {}
    for name in (CONFIG_JSON, GENERATION_CONFIG, TOKENIZER_CONFIG):
        settings[name] = _read(Path(path) / name)
        if settings[name] is None and (Path(path) / name).is_file():
            raise damaged(name, "not a JSON object")
    return settings


def read_tokenizer(path: Path):
    """The folder's ``tokenizers.Tokenizer``; a file it cannot read is a ValueError naming it."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(Path(path) / TOKENIZER_JSON))
    except Exception as ex:  # noqa: BLE001 - tokenizers raises a bare Exception
        raise damaged(TOKENIZER_JSON, str(ex)[:200]) from None


def loadable(path: Path, settings: dict | None = None) -> bool:
    """True when ``path`` holds a folder this module loads exactly as ``transformers`` would."""
    path = Path(path)
    settings = read_settings(path) if settings is None else settings
    cfg, tok_cfg = settings[CONFIG_JSON], settings[TOKENIZER_CONFIG]
    return (
        cfg is not None
        and tok_cfg is not None
        and plain_llama(cfg)
        and fast_tokenizer(tok_cfg)
        and (path / WEIGHTS).is_file()
        and (path / TOKENIZER_JSON).is_file()
        and settings[GENERATION_CONFIG] is not None
    )


class DefaultRope:
    """Llama's default rotary embedding, as ``transformers`` computes it (fp32 tables): called
    with ``(x, positions [1, T])`` it returns ``(cos, sin)`` [1, T, head_dim]."""

    def __init__(self, theta: float, head_dim: int) -> None:
        steps = torch.arange(0, head_dim, 2, dtype=torch.int64).float()
        self.inv_freq = 1.0 / (theta ** (steps / head_dim))

    def __call__(self, x: torch.Tensor, positions: torch.Tensor):
        freqs = (self.inv_freq[None, :, None] @ positions[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


@dataclass
class FolderLlama:
    """What the sampler and ``Twin`` read of a model: its config, generation settings, weights
    (by their ``transformers`` names, in the compute dtype) and RoPE."""

    config: SimpleNamespace
    generation_config: SimpleNamespace
    weights: dict[str, torch.Tensor] = field(repr=False)
    rotary: DefaultRope = field(repr=False)

    def eval(self) -> FolderLlama:
        return self

    def parameters(self):
        return iter(self.weights.values())

    def get_output_embeddings(self) -> SimpleNamespace:
        return SimpleNamespace(weight=self.weights["lm_head.weight"])

    def drop_layers(self) -> None:
        """Free the decoder layers' weights once the lean sampler holds its own packed copies
        (the only use of a FolderLlama): ~210 MB per twin in bf16, twice that in fp32."""
        keep = ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight")
        self.weights = {k: self.weights[k] for k in keep}


def load_model(path: Path, dtype: torch.dtype, cfg: dict, gen: dict) -> FolderLlama:
    """The weights of ``path`` in ``dtype``, with its config ``cfg`` and generation config."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    gen = GENERATION_DEFAULTS | gen
    try:
        weights = {k: v.to(dtype) for k, v in load_file(path / WEIGHTS).items()}
    except SafetensorError as ex:  # what check_folder_weights does not catch: one line
        raise ValueError(f"{WEIGHTS}: {ex}") from None
    missing = [k for k in ("model.embed_tokens.weight", "model.norm.weight") if k not in weights]
    if missing:
        raise ValueError(f"{WEIGHTS} has no {missing[0]}")
    if cfg.get("tie_word_embeddings", False) or "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]  # tied: one tensor
    config = SimpleNamespace(**cfg)
    config.num_key_value_heads = cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    config.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    rope = DefaultRope(rope_theta(cfg), config.head_dim)
    return FolderLlama(config, SimpleNamespace(**gen), weights, rope)


@dataclass(frozen=True)
class Encoding:
    input_ids: list[int]


class FolderTokenizer:
    """The part of a ``transformers`` fast tokenizer that tweettwin uses, on ``tokenizers``."""

    def __init__(self, path: Path, cfg: dict | None = None) -> None:
        """``cfg``: the folder's tokenizer config (read from ``path`` when not given)."""
        self._tok = read_tokenizer(path)
        cfg = (_read(Path(path) / TOKENIZER_CONFIG) if cfg is None else cfg) or {}
        self.added_tokens_decoder = self._tok.get_added_tokens_decoder()
        self.bos_token_id = self._id(cfg.get("bos_token"))
        self.eos_token_id = self._id(cfg.get("eos_token"))
        named = [cfg.get(k) for k in ("bos_token", "eos_token", "unk_token", "pad_token")]
        extra = cfg.get("extra_special_tokens") or cfg.get("additional_special_tokens") or []
        ids = [self._id(t) for t in [*named, *(extra if isinstance(extra, list) else [])]]
        self.all_special_ids = sorted({i for i in ids if i is not None})

    @property
    def backend_tokenizer(self):
        """The ``tokenizers.Tokenizer`` (as on a transformers fast tokenizer)."""
        return self._tok

    def _id(self, token) -> int | None:
        if isinstance(token, dict):
            token = token.get("content")
        return self._tok.token_to_id(token) if isinstance(token, str) else None

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def __call__(self, text: str, add_special_tokens: bool = True) -> Encoding:
        return Encoding(self.encode(text, add_special_tokens=add_special_tokens))

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def batch_decode(self, batch, skip_special_tokens: bool = False) -> list[str]:
        return self._tok.decode_batch(
            [list(b) for b in batch], skip_special_tokens=skip_special_tokens
        )

    def get_vocab(self) -> dict[str, int]:
        return self._tok.get_vocab(with_added_tokens=True)

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self._tok.id_to_token(ids)
        return [self._tok.id_to_token(i) for i in ids]


def load(
    path, dtype: torch.dtype, settings: dict | None = None
) -> tuple[FolderLlama, FolderTokenizer] | None:
    """The folder's model and tokenizer without ``transformers``, or None where only
    ``transformers`` reads the folder exactly (see :func:`loadable`). ``settings``: what
    :func:`read_settings` gave, if the caller has read it."""
    path = Path(path)
    settings = read_settings(path) if settings is None else settings
    if not loadable(path, settings):
        return None
    model = load_model(path, dtype, settings[CONFIG_JSON], settings[GENERATION_CONFIG])
    return model, FolderTokenizer(path, settings[TOKENIZER_CONFIG])
