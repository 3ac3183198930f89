"""A trained twin: load a model folder, write new posts.

    twin = Twin.load("tweettwin/me/model")
    result = twin.generate("My dream is", n=10)
    result.posts, result.rejected, result.seconds

Every sample starts ``<sep> [@author: ] prompt`` exactly like a post in training, ends at the
next separator, keeps the prompt at its start (as huggingtweets did), and has its whitespace
handled like the training data. The novelty guard drops samples that copy a training post and
samples again, a bounded number of times.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from tweettwin.errors import ConfigError, ModelError
from tweettwin.ml.novelty import META_FILE as NOVELTY_FILE
from tweettwin.ml.novelty import NoveltyIndex
from tweettwin.ml.sampler import Sampler, SamplingOptions
from tweettwin.model_folder import TRAINING_JSON, TrainingRecord

MAX_ROUNDS = 6  # sampling rounds per call: the first, then resampling of copies / empty samples
_BLANK_RUNS = re.compile(r"[ \t]*\n\s*")


def author_prefix(handle: str | None) -> str:
    """The tag that starts each post when a model was trained with author tags (see ml.data)."""
    return f"@{handle}: " if handle else ""


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
    settings: dict = field(default_factory=dict)  # temperature, top_k, top_p, max_new_tokens, path

    def to_dict(self) -> dict:
        return asdict(self)

    def __iter__(self):
        return iter(self.posts)

    def __len__(self) -> int:
        return len(self.posts)


def tidy(text: str, keep_newlines: bool) -> str:
    """Whitespace as in the training data: one space everywhere, or single line breaks kept."""
    if not keep_newlines:
        return " ".join(text.split())
    lines = _BLANK_RUNS.split(text.strip())
    return "\n".join(" ".join(line.split()) for line in lines)


class Twin:
    """A model folder ready to sample from (see :meth:`load`)."""

    def __init__(
        self,
        model,
        tokenizer,
        *,
        path: Path,
        training: dict | None = None,
        novelty: NoveltyIndex | None = None,
        lean: bool | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.path = Path(path)
        self.training = training or {}
        self.novelty = novelty
        self.sampler = Sampler(model, dtype=dtype, lean=lean)
        self.sep_id = self._separator_id()
        self.stop_ids = self._stop_ids()
        self.defaults = self._defaults()

    # ------------------------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        model_dir,
        *,
        precision: str | None = None,
        dtype: torch.dtype | None = None,
        lean: bool | None = None,
    ) -> Twin:
        """Load a model folder written by ``tweettwin train`` (or any local causal LM folder).

        The compute dtype is ``dtype`` if given, else ``precision`` ('bf16' / 'fp32' / 'auto':
        measured per machine, see ``ml/precision.py``); the stored dtype does not decide it.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from tweettwin.ml.precision import choose, torch_dtype

        path = Path(model_dir)
        if not (path / "config.json").is_file():
            what = "does not exist" if not path.exists() else "has no config.json"
            raise ModelError(
                f"{path}: {what}; give a model folder written by `tweettwin train` or `make`"
            )
        hf_logging.disable_progress_bar()
        if dtype is None:
            dtype = torch_dtype(choose(precision, "cpu", kind="decode"))
        from tweettwin.weights import check_folder_weights

        check_folder_weights(path)  # a truncated file: one line, not a loader traceback
        try:
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=dtype, trust_remote_code=False, use_safetensors=True
            )
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        except (OSError, ValueError) as ex:
            raise ModelError(
                f"{path}: cannot load the model ({str(ex).splitlines()[0][:200]})"
            ) from None
        # any local causal LM folder loads; a tweettwin one adds its separator and settings
        has_record = (path / TRAINING_JSON).is_file()
        training = TrainingRecord.read(path).to_dict() if has_record else {}
        novelty = NoveltyIndex.load(path) if (path / NOVELTY_FILE).is_file() else None
        return cls(
            model, tokenizer, path=path, training=training, novelty=novelty, lean=lean, dtype=dtype
        )

    def _separator_id(self) -> int:
        tok, gen = self.tokenizer, self.model.generation_config
        sep = self.training.get("separator")
        if sep and sep in tok.get_vocab():
            return tok.convert_tokens_to_ids(sep)
        for candidate in (gen.bos_token_id, tok.bos_token_id, tok.eos_token_id):
            if isinstance(candidate, int):
                return candidate
        raise ModelError(
            f"{self.path}: the tokenizer has no separator (bos/eos) token to start a post with"
        )

    def _stop_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        stop = {self.sep_id, *(eos if isinstance(eos, list) else [eos] if eos is not None else [])}
        # no special token ever occurs inside a training post: any of them ends the post
        added = getattr(self.tokenizer, "added_tokens_decoder", {}) or {}
        return (
            stop | set(self.tokenizer.all_special_ids) | {i for i, t in added.items() if t.special}
        )

    def _defaults(self) -> SamplingOptions:
        gen = self.model.generation_config
        greedy = not getattr(gen, "do_sample", False)
        return SamplingOptions(
            temperature=0.0
            if greedy
            else float(gen.temperature if gen.temperature is not None else 1.0),
            top_k=int(gen.top_k or 0),
            top_p=float(gen.top_p if gen.top_p is not None else 1.0),
            max_new_tokens=int(gen.max_new_tokens or 64),
        )

    @property
    def keep_newlines(self) -> bool:
        return bool(self.training.get("keep_newlines", False))

    @property
    def author_tags(self) -> bool:
        return bool(self.training.get("author_tags", False))

    @property
    def authors(self) -> list[str]:
        return list(self.training.get("authors", []))

    # ---------------------------------------------------------------------------- generation

    def options(
        self, *, temperature=None, top_p=None, top_k=None, max_new_tokens=None
    ) -> SamplingOptions:
        """The folder's defaults with the given overrides, checked."""
        d = self.defaults
        opts = SamplingOptions(
            temperature=d.temperature if temperature is None else float(temperature),
            top_k=d.top_k if top_k is None else int(top_k),
            top_p=d.top_p if top_p is None else float(top_p),
            max_new_tokens=d.max_new_tokens if max_new_tokens is None else int(max_new_tokens),
        )
        if opts.temperature < 0:
            raise ConfigError(f"temperature must be 0 (greedy) or more, not {opts.temperature}")
        if not 0 < opts.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], not {opts.top_p}")
        if opts.top_k < 0:
            raise ConfigError(f"top_k must be 0 (off) or more, not {opts.top_k}")
        if opts.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, not {opts.max_new_tokens}")
        return opts

    def _author(self, author: str | None) -> str | None:
        if author is not None:
            author = author.lstrip("@")
        if not self.author_tags:
            if author is not None:
                raise ConfigError(
                    f"--author {author}: this model was trained without author tags; "
                    "retrain with --author-tags to write as one of several authors"
                )
            return None
        known = self.authors
        if author is None:
            if len(known) > 1:
                raise ConfigError(
                    f"this model writes as several authors ({', '.join(known)}); pick one: --author"
                )
            return known[0] if known else None
        if known and author not in known:
            raise ConfigError(
                f"--author {author}: not one of this model's authors ({', '.join(known)})"
            )
        return author

    def generate(
        self,
        prompt: str | None = None,
        n: int = 10,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        max_new_tokens: int | None = None,
        seed: int | None = None,
        novelty: bool = True,
        author: str | None = None,
    ) -> GenerationResult:
        """Write ``n`` new posts, each starting with ``prompt`` (if any)."""
        if n < 1:
            raise ConfigError(f"n must be at least 1, not {n}")
        opts = self.options(
            temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens
        )
        if novelty and self.novelty is None:
            raise ModelError(
                f"{self.path}: no novelty index in this model folder; pass novelty=False "
                "(--no-novelty-guard) to sample without the copy check"
            )
        author = self._author(author)
        prompt = tidy(prompt, self.keep_newlines) if prompt else ""
        head = author_prefix(author) + prompt
        head_ids = self.tokenizer(head, add_special_tokens=False).input_ids if head else []
        started = time.perf_counter()
        posts: list[str] = []
        rejected = empty = sampled = new_tokens = 0
        rounds = MAX_ROUNDS if opts.temperature > 0 else 1  # greedy: resampling gives the same
        for round_ in range(rounds):
            need = n - len(posts)
            if need <= 0:
                break
            # later rounds oversample a little: a batch costs far less than its rows one by one
            batch = need if round_ == 0 else min(n, 2 * need)
            round_seed = None if seed is None else seed + 7919 * round_
            outs = self.sampler.sample(
                [self.sep_id, *head_ids], batch, opts, self.stop_ids, seed=round_seed
            )
            for ids in outs:
                sampled += 1
                new_tokens += len(ids)
                text = self._text(head_ids + ids, author)
                if not ids or not text or text == prompt:
                    empty += 1
                elif novelty and self.novelty.is_copy(text):
                    rejected += 1
                elif len(posts) < n:
                    posts.append(text)
        settings = asdict(opts) | {"path": self.sampler.path}
        return GenerationResult(
            posts=posts,
            rejected=rejected,
            seconds=round(time.perf_counter() - started, 3),
            prompt=prompt or None,
            author=author,
            seed=seed,
            empty=empty,
            sampled=sampled,
            new_tokens=new_tokens,
            settings=settings,
        )

    def _text(self, ids: list[int], author: str | None) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        tag = author_prefix(author)
        if tag and text.startswith(tag):
            text = text[len(tag) :]
        return tidy(text, self.keep_newlines)
