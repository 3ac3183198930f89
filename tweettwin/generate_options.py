"""The generation contract every front end shares (CLI, Python, a future HTTP server): the options
of one request, the events a stream yields, and the result. Torch-free, so front ends and their
tests (see :mod:`tweettwin.testing`) never load a model to check what they send or render.

    opts = GenerateOptions(n=5, temperature=0.8, seed=1)
    twin.generate("My dream is", opts)            # or twin.generate("My dream is", n=5, ...)
    for event in twin.stream("My dream is", opts):
        ...                                       # TokenEvent as decoded, PostEvent per sample

Sampling fields left ``None`` take the model folder's own defaults (its generation config), which
``tweettwin train`` writes from :data:`SAMPLING_DEFAULTS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tweettwin.errors import ConfigError

# Sampling defaults for posts, the one place they are written down: `tweettwin train` stores them
# in generation_config.json, and a folder without one samples with them. Plain sampling, no top-k /
# top-p cut: truncation (top-k 50, top-p 0.95) made posts longer, more generic and more in the base
# model's language (classifier AUC 0.825 / 0.910 against 0.768 / 0.813 without it; lower is
# closer). Temperature 1.0, the model's own odds: with each token drawn among the posts' word
# pieces and each post's first token from the posts' starts, 0.9 no longer kept anything off-voice,
# and 1.0 measured closer on the classifier AUC and on diversity over five archives x five seeds
# (docs/benchmarks.md, *Quality*).
SAMPLING_DEFAULTS: dict[str, Any] = {
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "min_p": 0.0,
    "max_new_tokens": 64,
}
MAX_N = 1_000_000  # posts per request: samples are drawn in batches, so this bounds time, not RAM
MAX_NEW_TOKENS = 4096
MAX_WARM_UP = 3


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class GenerateOptions:
    """One generation request (besides the prompt). Validated on construction (ConfigError)."""

    n: int = _opt(10, "How many posts to write.")
    temperature: float | None = _opt(
        None, "Sampling temperature, 0 = greedy [default: the model's, 1.0]."
    )
    top_p: float | None = _opt(
        None,
        "Nucleus sampling: keep the likeliest tokens covering this share, in (0, 1] "
        "[default: the model's, 1 = off].",
    )
    top_k: int | None = _opt(
        None, "Sample among the k likeliest tokens, 0 = off [default: the model's, 0]."
    )
    min_p: float | None = _opt(
        None,
        "Min-p sampling: drop tokens less likely than this share of the likeliest one, in "
        "[0, 1) [default: the model's, 0 = off].",
    )
    max_new_tokens: int | None = _opt(
        None, "Longest post, in tokens [default: the model's, sized for the training posts]."
    )
    warm_up: int | None = _opt(
        None,
        "Unprompted posts of a tweettwin model are written after this many dropped warm-up "
        "posts, as posts follow posts in training (measured closer to the real posts, at ~2x "
        "the tokens); 0 = each from a lone separator [default: 1].",
    )
    seed: int | None = _opt(None, "Random seed: same seed, same posts.")
    author: str | None = _opt(None, "Write as this author (models trained with --author-tags).")
    full_vocab: bool = _opt(
        False,
        "Sample from the base model's whole vocabulary, not only the word pieces the training "
        "posts use (a tweettwin model's default: measured closer to the real posts, and faster).",
    )
    model_start: bool = _opt(
        False,
        "Let the model pick the first token of an unprompted post; a tweettwin model's default "
        "draws it from how the training posts start, which keeps the person's mix of kinds of "
        "posts (quotes, mentions, thank-yous, lowercase asides).",
    )
    novelty: bool = _opt(
        True,
        "Drop samples that copy a training post and sample again (needs the folder's novelty "
        "index).",
    )

    def __post_init__(self) -> None:
        _check_int("n", self.n, 1, MAX_N)
        if self.temperature is not None:
            _check_float("temperature", self.temperature, "0 (greedy) or more")
            if self.temperature < 0:
                raise ConfigError(f"temperature must be 0 (greedy) or more, not {self.temperature}")
        if self.top_p is not None:
            _check_float("top_p", self.top_p, "in (0, 1]")
            if not 0 < self.top_p <= 1:
                raise ConfigError(f"top_p must be in (0, 1], not {self.top_p}")
        if self.min_p is not None:
            _check_float("min_p", self.min_p, "in [0, 1)")
            if not 0 <= self.min_p < 1:
                raise ConfigError(f"min_p must be in [0, 1), not {self.min_p}")
        if self.top_k is not None:
            _check_int("top_k", self.top_k, 0, None, "0 (off) or more")
        if self.max_new_tokens is not None:
            _check_int("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS)
        if self.warm_up is not None:
            _check_int("warm_up", self.warm_up, 0, MAX_WARM_UP)
        if self.seed is not None:
            _check_int("seed", self.seed, 0, 2**63 - 1)
        if self.author is not None and not isinstance(self.author, str):
            raise ConfigError(f"author must be a handle (text), not {self.author!r}")
        for name in ("novelty", "full_vocab", "model_start"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GenerateOptions:
        """Build from request fields (JSON, keyword arguments); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown generation option{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def updated(self, **changes: Any) -> GenerateOptions:
        """A copy with ``changes`` applied (``None`` values are ignored), validated again."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return GenerateOptions.from_dict(asdict(self) | changes) if changes else self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def help(cls, name: str) -> str:
        return next(f.metadata["help"] for f in fields(cls) if f.name == name)


def resolve_options(options: GenerateOptions | int | None, overrides: Mapping[str, Any]):
    """What ``generate(prompt, options, **overrides)`` asks for: ``options`` may be n (an int)."""
    if isinstance(options, int) and not isinstance(options, bool):
        options, overrides = None, {"n": options, **overrides}
    if options is not None and not isinstance(options, GenerateOptions):
        raise ConfigError(f"options must be GenerateOptions or n, not {type(options).__name__}")
    return (options or GenerateOptions()).updated(**overrides)


def _check_int(name: str, value, low: int, high: int | None, what: str | None = None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if ok and value >= low and (high is None or value <= high):
        return
    what = what or (f"between {low} and {high:,}" if high is not None else f"{low} or more")
    raise ConfigError(f"{name} must be a whole number {what}, not {value!r}")


def _check_float(name: str, value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number {what}, not {value!r}")


# ------------------------------------------------------------------------------ stream events


@dataclass(frozen=True)
class TokenEvent:
    """New text of one sample, as it is decoded. ``sample`` numbers samples in the order drawn
    (resampled ones get new numbers); its text so far is the prompt plus every delta."""

    sample: int
    text: str


@dataclass(frozen=True)
class PostEvent:
    """A sample ended. ``kept``: it is one of the result's posts; otherwise ``reason`` says why
    not ('empty': added no text; 'copy': copies a training post; 'surplus': enough posts)."""

    sample: int
    text: str
    kept: bool
    reason: str | None = None
    tokens: int = 0  # new tokens the sample drew


@dataclass
class GenerationResult:
    posts: list[str]
    rejected: int  # samples dropped by the novelty guard (copies of training posts)
    seconds: float
    prompt: str | None = None
    author: str | None = None
    seed: int | None = None
    empty: int = 0  # samples dropped because they added no text
    sampled: int = 0  # samples drawn in all
    new_tokens: int = 0
    settings: dict = field(default_factory=dict)  # sampling, path, vocab, start

    def to_dict(self) -> dict:
        return asdict(self)

    def __iter__(self):
        return iter(self.posts)

    def __len__(self) -> int:
        return len(self.posts)
