"""A trained twin: load a model folder, write new posts.

    twin = Twin.load("tweettwin/me/model")
    result = twin.generate("My dream is", n=10)          # or GenerateOptions(n=10, seed=1)
    result.posts, result.rejected, result.seconds
    for event in twin.stream("My dream is", n=3):        # TokenEvent as decoded, PostEvent per post
        ...

Every sample starts ``<sep> [@author: ] prompt`` exactly like a post in training, ends at the
next separator, keeps the prompt at its start (as huggingtweets did), and has its whitespace
handled like the training data; an unprompted post of a tweettwin model is the second post of a
run ``<sep> warm-up <sep> post`` (ml/chain.py). The novelty guard drops samples that copy a
training post and samples again, a bounded number of times.

One ``Twin`` serves concurrent callers (threads of a web server): the weights are read-only, each
call owns its KV cache and ``torch.Generator``, and the tokenizer, which is not safe to share
across threads, is used under a lock.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from tweettwin.errors import ConfigError, ModelError
from tweettwin.generate_options import (
    SAMPLING_DEFAULTS,
    GenerateOptions,
    GenerationResult,
    PostEvent,
    TokenEvent,
    resolve_options,
)
from tweettwin.ml.chain import post_steps, run_length
from tweettwin.ml.memory import keep_freed_memory
from tweettwin.ml.novelty import META_FILE as NOVELTY_FILE
from tweettwin.ml.novelty import NoveltyIndex
from tweettwin.ml.post_start import read_post_starts, start_logprobs, whitespace_led_ids
from tweettwin.ml.post_vocab import read_post_vocab
from tweettwin.ml.sampler import Runs, Sampler, SamplingOptions
from tweettwin.model_folder import TRAINING_JSON, TrainingRecord

__all__ = ["GenerationResult", "Twin", "author_prefix", "tidy"]

LOADER_ENV = "TWEETTWIN_LOADER"  # 'transformers': load every folder through transformers
MAX_ROUNDS = 6  # sampling rounds per call: the first, then resampling of copies / empty samples
MIN_KEEP_RATE = 0.05  # the lowest share of kept samples a resampling round plans for
WARM_UP = 1  # unprompted posts discarded at the start of each row's run (ml/chain.py)
_BLANK_RUNS = re.compile(r"[ \t]*\n\s*")


def author_prefix(handle: str | None) -> str:
    """The tag that starts each post when a model was trained with author tags (see ml.data)."""
    return f"@{handle}: " if handle else ""


def tidy(text: str, keep_newlines: bool) -> str:
    """Whitespace as in the training data: one space everywhere, or single line breaks kept."""
    if not keep_newlines:
        return " ".join(text.split())
    lines = _BLANK_RUNS.split(text.strip())
    return "\n".join(" ".join(line.split()) for line in lines)


@dataclass(frozen=True)
class _Request:
    """One call, resolved against the folder: sampling settings, prompt tokens, author."""

    options: GenerateOptions
    sampling: SamplingOptions
    prompt: str
    author: str | None
    head_ids: list[int]  # author tag + prompt, without the separator


def resample_size(need: int, kept: int, judged: int) -> int:
    """Samples to draw in a resampling round for ``need`` more posts, at the share of samples kept
    so far (plus a quarter): each round decodes a whole batch, and a batch costs far less than
    its rows one by one, so one larger round beats several small ones. Drawing stops as soon as
    enough posts are kept, so the extra rows cost little. (On the demo's memorised twin, which
    keeps ~40% of its samples, 10 posts took 4.6-7.0 s instead of 5.5-8.5 s with rounds of at
    most 2 x need; 4 seeds, Intel Xeon.)"""
    if not judged:
        return need
    return max(need, math.ceil(1.25 * need / max(kept / judged, MIN_KEEP_RATE)))


def _load_weights(path: Path, dtype: torch.dtype, folder: bool):
    """``(model, tokenizer)``: without ``transformers`` where ``folder`` and the folder allows
    it (``ml/folder_llama.py``), else ``transformers``' classes (also where
    ``$TWEETTWIN_LOADER=transformers``: a switch to compare or to fall back)."""
    from tweettwin.ml import folder_llama

    folder = folder and os.environ.get(LOADER_ENV, "auto").strip().lower() != "transformers"
    try:
        settings = folder_llama.read_settings(path)  # a damaged file: one line, either loader
        loaded = folder_llama.load(path, dtype, settings) if folder else None
        if loaded is not None:
            return loaded
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if (path / folder_llama.TOKENIZER_JSON).is_file():
            folder_llama.read_tokenizer(path)  # a damaged file: one line, not a traceback
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=dtype, trust_remote_code=False, use_safetensors=True
        )
        return model, AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as ex:
        reason = str(ex).splitlines()[0][:200]
        raise ModelError(f"{path}: cannot load the model ({reason})") from None


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
        quantize: bool = False,
        post_vocab: list[int] | None = None,
        post_starts: dict[int, int] | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._tokenizer_lock = threading.Lock()
        self.path = Path(path)
        self.training = training or {}
        self.novelty = novelty
        self.sep_id = self._separator_id()
        self.stop_ids = self._stop_ids()
        # the training posts' word pieces (ml/post_vocab.py), with the tokens that end a post
        vocab = None if post_vocab is None else set(post_vocab) | self.stop_ids
        self.sampler = Sampler(model, dtype=dtype, lean=lean, quantize=quantize, vocab=vocab)
        # how the training posts start (ml/post_start.py): an unprompted post's first token
        if post_starts and vocab is not None:  # a start outside the vocab could not be drawn
            post_starts = {t: c for t, c in post_starts.items() if t in vocab}
        self.starts = None
        if post_starts:
            self.starts = start_logprobs(post_starts, model.get_output_embeddings().weight.shape[0])
        self.defaults = self._defaults()
        self._start_ban: list[int] | None = None  # ml/post_start.py, on the first unprompted call
        # unprompted posts of a tweettwin model come from runs of posts (ml/chain.py); 0 samples
        # each from a lone separator
        self.warm_up = WARM_UP if self.training else 0

    # ------------------------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        model_dir,
        *,
        precision: str | None = None,
        dtype: torch.dtype | None = None,
        lean: bool | None = None,
        quantize: str | bool | None = None,
    ) -> Twin:
        """Load a model folder written by ``tweettwin train`` (or any local causal LM folder).

        The compute dtype is ``dtype`` if given, else ``precision`` ('bf16' / 'fp32' / 'auto':
        measured per machine, see ``ml/precision.py``); the stored dtype does not decide it.
        ``quantize``: True for fp16 matmul weights (fast, within 0.1% perplexity), False for the
        exact path, None / 'auto' for the measured default (see :func:`tweettwin.ml.decode.choose`).
        A plain Llama folder (any tweettwin model of SmolLM2) loads without ``transformers``
        (``ml/folder_llama.py``), seconds sooner; ``lean=False`` always uses ``transformers``.
        """
        from tweettwin.ml.decode import choose

        path = Path(model_dir)
        if not (path / "config.json").is_file():
            what = "does not exist" if not path.exists() else "has no config.json"
            raise ModelError(
                f"{path}: {what}; give a model folder written by `tweettwin train` or `make`"
            )
        plan = choose(precision, dtype, quantize)
        from tweettwin.weights import check_folder_weights

        check_folder_weights(path)  # a truncated file: one line, not a loader traceback
        keep_freed_memory()  # sampling batches reuse their pages (ml/memory.py)
        model, tokenizer = _load_weights(path, plan.dtype, folder=lean is not False)
        # any local causal LM folder loads; a tweettwin one adds its separator and settings
        has_record = (path / TRAINING_JSON).is_file()
        training = TrainingRecord.read(path).to_dict() if has_record else {}
        novelty = NoveltyIndex.load(path) if (path / NOVELTY_FILE).is_file() else None
        size = model.get_output_embeddings().weight.shape[0]
        return cls(
            model,
            tokenizer,
            path=path,
            training=training,
            novelty=novelty,
            lean=lean,
            dtype=plan.dtype,
            quantize=plan.quantize,
            post_vocab=read_post_vocab(path, size),
            post_starts=read_post_starts(path, size),
        )

    def logits(self, ids: list[int]) -> torch.Tensor:
        """The model's logits [T, V] (fp32) after each of ``ids``, computed as sampling does."""
        if self.sampler.lean is not None:
            return self.sampler.lean.prefill(ids, 1, len(ids), every_position=True)[0]
        with torch.inference_mode():
            return self.model(input_ids=torch.tensor([ids])).logits[0].float()

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

    def _first_ban(self, head_ids: list[int]) -> list[int] | None:
        """Tokens an unprompted post may not start with (whitespace-led: ml/post_start.py)."""
        if head_ids:
            return None
        with self._tokenizer_lock:
            if self._start_ban is None:
                self._start_ban = whitespace_led_ids(self.tokenizer)
        return self._start_ban

    def _starts(self, req: _Request):
        """What an unprompted post's first token is drawn from: the training posts' starts,
        unless the request lets the model pick it, continues a prompt or is greedy."""
        if req.head_ids or req.options.model_start or req.sampling.temperature <= 0:
            return None
        return self.starts

    def start(self, req: _Request | None = None) -> str:
        """'posts' when unprompted posts start as the training posts do, else 'model'."""
        starts = self.starts if req is None else self._starts(req)
        return "model" if starts is None else "posts"

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
        d = SAMPLING_DEFAULTS
        return SamplingOptions(
            temperature=0.0
            if greedy
            else float(gen.temperature if gen.temperature is not None else d["temperature"]),
            top_k=int(gen.top_k or 0),
            top_p=float(gen.top_p if gen.top_p is not None else 1.0),
            max_new_tokens=int(gen.max_new_tokens or d["max_new_tokens"]),
            min_p=float(getattr(gen, "min_p", None) or 0.0),
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

    # ----------------------------------------------------------------------- request checks

    def options(
        self, *, temperature=None, top_p=None, top_k=None, max_new_tokens=None, min_p=None
    ) -> SamplingOptions:
        """The folder's defaults with the given overrides, checked (see GenerateOptions)."""
        given = GenerateOptions(
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            max_new_tokens=max_new_tokens,
        )
        return self._sampling(given)

    def _sampling(self, opts: GenerateOptions) -> SamplingOptions:
        d = self.defaults
        return SamplingOptions(
            temperature=d.temperature if opts.temperature is None else float(opts.temperature),
            top_k=d.top_k if opts.top_k is None else opts.top_k,
            top_p=d.top_p if opts.top_p is None else float(opts.top_p),
            max_new_tokens=d.max_new_tokens if opts.max_new_tokens is None else opts.max_new_tokens,
            min_p=d.min_p if opts.min_p is None else float(opts.min_p),
        )

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

    def _request(self, prompt, options, overrides: dict) -> _Request:
        opts = resolve_options(options, overrides)
        if opts.novelty and self.novelty is None:
            raise ModelError(
                f"{self.path}: no novelty index in this model folder; pass novelty=False "
                "(--no-novelty-guard) to sample without the copy check"
            )
        author = self._author(opts.author)
        prompt = tidy(prompt, self.keep_newlines) if prompt else ""
        head = author_prefix(author) + prompt
        with self._tokenizer_lock:
            head_ids = self.tokenizer(head, add_special_tokens=False).input_ids if head else []
        sampling = self._sampling(opts)
        room = self.sampler.room(1 + len(head_ids))
        context = room + 1 + len(head_ids)
        if room < 1:
            raise ConfigError(
                f"the prompt is {len(head_ids)} tokens; this model reads {context}, so at most "
                f"{context - 2} (one for the post separator, one for the post): shorten it"
            )
        if room < sampling.max_new_tokens:  # the context ends the post early, not an error
            sampling = replace(sampling, max_new_tokens=room)
        return _Request(opts, sampling, prompt, author, head_ids)

    # ---------------------------------------------------------------------------- generation

    def generate(
        self, prompt: str | None = None, options: GenerateOptions | int | None = None, **overrides
    ) -> GenerationResult:
        """Write ``n`` new posts, each starting with ``prompt`` (if any).

        ``options`` is a :class:`GenerateOptions` (or ``n``); keyword arguments override its
        fields: ``generate("Today", n=5, seed=1, temperature=0.8, novelty=False)``.
        """
        req = self._request(prompt, options, overrides)
        started = time.perf_counter()
        posts: list[str] = []
        rejected = empty = sampled = new_tokens = 0
        for event in self._events(req, text_deltas=False):
            sampled += 1
            new_tokens += event.tokens
            rejected += event.reason == "copy"
            empty += event.reason == "empty"
            if event.kept:
                posts.append(event.text)
        return GenerationResult(
            posts=posts,
            rejected=rejected,
            seconds=round(time.perf_counter() - started, 3),
            prompt=req.prompt or None,
            author=req.author,
            seed=req.options.seed,
            empty=empty,
            sampled=sampled,
            new_tokens=new_tokens,
            settings=asdict(req.sampling)
            | {"path": self.sampler.path, "vocab": self.vocab(req), "start": self.start(req)},
        )

    def stream(
        self, prompt: str | None = None, options: GenerateOptions | int | None = None, **overrides
    ) -> Iterator[TokenEvent | PostEvent]:
        """Like :meth:`generate`, as events while decoding: a :class:`TokenEvent` with each
        sample's new text, a :class:`PostEvent` when a sample ends (kept or why not). The kept
        posts, in event order, are ``generate``'s posts for the same options and seed."""
        req = self._request(prompt, options, overrides)  # errors now, not at the first next()
        return self._events(req, text_deltas=True)

    def _events(self, req: _Request, text_deltas: bool) -> Iterator[TokenEvent | PostEvent]:
        opts, n = req.options, req.options.n
        generator = torch.Generator()
        generator.manual_seed(opts.seed) if opts.seed is not None else generator.seed()
        prompt_ids = [self.sep_id, *req.head_ids]
        kept = base = judged = 0
        rounds = MAX_ROUNDS if req.sampling.temperature > 0 else 1  # greedy: resampling repeats
        for round_ in range(rounds):
            need = n - kept
            if need <= 0:
                return
            batch = need if round_ == 0 else resample_size(need, kept, judged)
            ids: dict[int, list[int]] = {}
            shown: dict[int, str] = {}
            steps = self._steps(req, prompt_ids, batch, generator)
            top = batch - 1  # the round's highest sample index (post_steps numbers its own)
            for step in steps:
                for row, tok, done in step:
                    top = max(top, row)
                    sample = ids.setdefault(base + row, [])
                    if tok is not None:
                        sample.append(tok)
                        if text_deltas:
                            delta = self._delta(req, sample, shown, base + row)
                            if delta:
                                yield TokenEvent(base + row, delta)
                    if done:
                        event = self._judge(req, base + row, ids.pop(base + row), kept < n)
                        kept += event.kept
                        judged += 1
                        yield event
                if kept >= n:
                    steps.close()  # enough posts: later samples of this round are not needed
                    return
            base += top + 1

    def _steps(self, req: _Request, prompt_ids: list[int], n: int, generator):
        """The sampler's steps for ``n`` samples: one post per row, or for an unprompted post
        of a tweettwin model, the posts of each row's run after its warm-up (ml/chain.py)."""
        ban, starts = self._first_ban(req.head_ids), self._starts(req)
        opts, max_post = req.sampling, req.sampling.max_new_tokens
        warm = self.warm_up if req.options.warm_up is None else req.options.warm_up
        run = run_length(warm, max_post)
        chained = warm > 0 and not req.head_ids and opts.temperature > 0
        posts_vocab = not req.options.full_vocab
        if not chained or run > self.sampler.room(len(prompt_ids)):  # short context: lone posts
            return self.sampler.stream(
                prompt_ids, n, opts, self.stop_ids, generator=generator, first_ban=ban,
                posts_vocab=posts_vocab, starts=starts,
            )  # fmt: skip
        steps = self.sampler.stream(
            prompt_ids, n, replace(opts, max_new_tokens=run), self.stop_ids - {self.sep_id},
            generator=generator, first_ban=ban,
            runs=Runs(self.sep_id, warm, max_post), posts_vocab=posts_vocab, starts=starts,
        )  # fmt: skip
        return post_steps(steps, self.sep_id, warm_up=warm)

    def vocab(self, req: _Request | None = None) -> int:
        """How many tokens a sample draws each token among: the posts' word pieces (with the
        stop tokens) unless the request asks for the whole vocabulary."""
        full = req is not None and req.options.full_vocab
        return (
            self.sampler.head_rows
            if self.sampler.vocab is None or full
            else len(self.sampler.vocab)
        )

    def _judge(self, req: _Request, sample: int, ids: list[int], room: bool) -> PostEvent:
        text = self._text(req.head_ids + ids, req.author)
        if not ids or not text or text == req.prompt:
            return PostEvent(sample, text, kept=False, reason="empty", tokens=len(ids))
        if req.options.novelty and self.novelty.is_copy(text):
            return PostEvent(sample, text, kept=False, reason="copy", tokens=len(ids))
        reason = None if room else "surplus"
        return PostEvent(sample, text, kept=room, reason=reason, tokens=len(ids))

    def _delta(self, req: _Request, ids: list[int], shown: dict[int, str], sample: int) -> str:
        """The new text of a sample since its last event ('' while a character is incomplete)."""
        before = shown.get(sample, req.prompt)
        text = self._text(req.head_ids + ids, req.author)
        if text.endswith("\ufffd") or not text.startswith(before):
            return ""  # half a UTF-8 character, or whitespace tidied differently: wait
        shown[sample] = text
        return text[len(before) :]

    def _text(self, ids: list[int], author: str | None) -> str:
        with self._tokenizer_lock:
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
        tag = author_prefix(author)
        if tag and text.startswith(tag):
            text = text[len(tag) :]
        return tidy(text, self.keep_newlines)
