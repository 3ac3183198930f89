"""Training options: defaults, help text and validation in one torch-free place.

The CLI builds ``tweettwin train``'s flags from these fields' ``metadata["help"]``; the model
folder's ``training.json`` records ``asdict(config)``. The defaults are the recipe that gave the
lowest held-out loss per CPU-minute in ``bench/train.py`` (see docs and the bench output).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tweettwin.errors import ConfigError

METHODS = ("full", "lora")
PRECISIONS = ("auto", "bf16", "fp32")
SAVE_DTYPES = ("bfloat16", "float32")
# Measured by bench/train.py (a 952-post archive, embedded base): 1 epoch at 3e-4 reached a lower
# held-out loss than 2 epochs at 1e-4 in half the time, and than the huggingtweets recipe.
DEFAULT_LR = {"full": 3e-4, "lora": 1e-3}
# Without --epochs a small archive trains on about as many tokens as a ~2,000-post one does in its
# one epoch (up to 2 epochs): on andreruffert's archive (~16k tokens) one epoch left the twin
# clearly further from the person than two (README, Evaluating), and the run still takes no
# longer than a ~30k-token archive's.
MIN_TRAIN_TOKENS = 30_000
MAX_AUTO_EPOCHS = 2.0


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """How ``train`` fine-tunes a base model on a dataset folder."""

    base_model: str = _opt(
        "embedded",
        "Base model: 'embedded' (SmolLM2-135M shipped with tweettwin, offline), a Hugging Face "
        "model id (needs internet or a local cache) or a local model folder.",
    )
    method: str = _opt(
        "full", "'full' fine-tuning or 'lora' (adapters merged into the saved weights)."
    )
    epochs: float | None = _opt(
        None,
        "Passes over the training posts (fractions allowed); default 1, or more (up to 2) when "
        f"an epoch is under {MIN_TRAIN_TOKENS:,} tokens, so a small archive trains on about that "
        "many.",
    )
    max_steps: int | None = _opt(None, "Stop after this many optimizer steps (overrides epochs).")
    max_minutes: float | None = _opt(
        None,
        "Time budget: stop (and keep the best checkpoint) after this many minutes of training.",
    )
    learning_rate: float | None = _opt(
        None, "Peak learning rate; default 3e-4 for full fine-tuning, 1e-3 for LoRA."
    )
    batch_size: int = _opt(2, "Packed blocks per optimizer step.")
    block_size: int = _opt(256, "Tokens per packed block (posts are packed, never padded).")
    warmup_ratio: float = _opt(0.05, "Share of the steps spent warming the learning rate up.")
    min_lr_ratio: float = _opt(0.1, "The cosine schedule decays to this share of the peak rate.")
    weight_decay: float = _opt(0.0, "AdamW weight decay.")
    max_grad_norm: float | None = _opt(1.0, "Clip gradients to this norm (None: no clipping).")
    lora_r: int = _opt(16, "LoRA rank (all attention and MLP projections).")
    lora_alpha: int = _opt(32, "LoRA alpha.")
    lora_dropout: float = _opt(0.0, "LoRA dropout.")
    freeze_embeddings: bool = _opt(
        False, "Freeze the (tied) token embedding / LM head: faster steps, fewer optimizer states."
    )
    freeze_lower: float = _opt(
        0.0,
        "Share of the transformer layers, counted from the input, kept frozen: the backward pass "
        "stops at the first trained layer (0: train every layer). A tied embedding still trains "
        "as the LM head unless --freeze-embeddings.",
    )
    author_tags: bool = _opt(
        False,
        "Prefix each post with '@handle: ' so one model can write as each author (generate "
        "--author).",
    )
    balance_authors: bool = _opt(True, "Upsample smaller authors to the size of the largest one.")
    # One pass per epoch: in bench/train.py the mid-epoch pass of a 1-epoch cosine run never held
    # the best weights, and on an fp32-only CPU each pass costs several seconds of a short run.
    evals_per_epoch: int = _opt(
        1, "Validation passes per epoch (plus one on the base model before training)."
    )
    early_stopping_patience: int | None = _opt(
        2, "Stop when validation loss has not improved for this many evaluations (None: never)."
    )
    checkpoint_minutes: float = _opt(3.0, "Save a resumable checkpoint at least this often.")
    precision: str = _opt(
        "auto",
        "'bf16' autocast with fp32 master weights, 'fp32', or 'auto' (bf16 where the CPU/GPU "
        "supports it).",
    )
    save_dtype: str = _opt(
        "bfloat16", "dtype of the saved weights ('bfloat16' halves size and samples faster)."
    )
    compile: bool = _opt(
        False, "torch.compile the model (~30% faster steps after ~90-120 s of compiling)."
    )
    seed: int = _opt(42, "Random seed: same seed, same data order and same weights.")
    resume: bool = _opt(
        False, "Continue the interrupted run that was writing to the same output folder."
    )
    overwrite: bool = _opt(
        False, "Replace an existing output folder (only once the new model is complete)."
    )

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}"
            )
        if self.save_dtype not in SAVE_DTYPES:
            raise ConfigError(
                f"save_dtype must be one of {', '.join(SAVE_DTYPES)}, not {self.save_dtype!r}"
            )
        if self.learning_rate is None:
            self.learning_rate = DEFAULT_LR[self.method]
        positive = (
            "learning_rate",
            "batch_size",
            "block_size",
            "evals_per_epoch",
            "checkpoint_minutes",
            "lora_r",
            "lora_alpha",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be greater than 0, not {getattr(self, name)}")
        for name in (
            "epochs",
            "max_steps",
            "max_minutes",
            "early_stopping_patience",
            "max_grad_norm",
        ):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be greater than 0 (or unset), not {value}")
        for name in ("warmup_ratio", "min_lr_ratio", "lora_dropout", "freeze_lower"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), not {getattr(self, name)}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be 0 or more, not {self.weight_decay}")
        if self.resume and self.overwrite:
            raise ConfigError(
                "--resume and --overwrite cannot be combined: resume continues, overwrite restarts"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    def planned_epochs(self, tokens_per_epoch: int) -> float:
        """``epochs``, or the default for an epoch of ``tokens_per_epoch`` tokens."""
        if self.epochs is not None:
            return self.epochs
        wanted = MIN_TRAIN_TOKENS / max(1, tokens_per_epoch)
        return round(min(MAX_AUTO_EPOCHS, max(1.0, wanted)), 3)

    @classmethod
    def help(cls, name: str) -> str:
        return next(f.metadata["help"] for f in fields(cls) if f.name == name)


@dataclass
class TrainResult:
    """What ``train`` returns: where the model is and how training went."""

    output_dir: str
    metrics: dict  # base/best/final val loss + perplexity, steps, tokens, stopped_early...
    wall_time_s: float
    tokens_per_s: float
    steps: int
    epochs: float
    stop_reason: str  # "completed" | "early_stopping" | "max_minutes" | "max_steps"
    training: dict = field(default_factory=dict)  # the training.json record
    record: Any = None  # the same as a model_folder.TrainingRecord
    run_id: str | None = None  # the registry's "train" run (set by tweettwin.pipeline)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("training", "record")}
