"""The one place the server touches a loaded twin: text in, choices and real token counts out.

    engine = Engine(Twin.load(model_dir))
    out = engine.complete(Request(prompt="My dream is", n=3, max_tokens=40, seed=1))
    out.choices[0].text, out.dropped, out.prompt_tokens

With ``Twin.stream`` (branch gen) each post is handed on as its sample ends; with today's
``Twin.generate`` all of them when the last one is done. Posts start with the prompt, as in
training; a completion is the text after it (``echo`` puts the prompt back).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tweettwin.errors import ConfigError


@dataclass
class Request:
    prompt: str = ""
    n: int = 1
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    seed: int | None = None
    stop: Sequence[str] = ()
    novelty_guard: bool = True
    warm_up: int | None = None  # dropped posts before an unprompted one (None: the model's)
    full_vocab: bool = False  # the whole vocabulary, not only the posts' word pieces
    model_start: bool = False  # the model picks a post's first token, not the posts' starts
    logprobs: int | None = None  # top-k alternatives per token; 0 = only the chosen tokens
    echo: bool = False
    prompt_ids: Sequence[int] | None = None  # the prompt as token ids, when the client sent ids


@dataclass
class Choice:
    text: str  # what the response carries (the prompt first when echo)
    post: str  # the whole post, prompt included
    completion: str  # the text after the prompt
    finish_reason: str  # "stop" (the post ended, or a stop string) | "length"
    tokens: int  # completion tokens (real, from the model's tokenizer)
    logprobs: dict | None = None


@dataclass
class Output:
    choices: list[Choice]
    prompt_tokens: int
    dropped: int  # samples the novelty guard dropped (copies of training posts)
    empty: int = 0
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.choices)


OnChoice = Callable[[int, Choice], None]


class Engine:
    """A loaded twin behind the API (not thread-safe: the server runs one call at a time)."""

    def __init__(self, twin) -> None:
        self.twin = twin
        self.tokenizer = twin.tokenizer
        self.max_positions = int(getattr(twin.model.config, "max_position_embeddings", 0) or 0)

    @property
    def has_novelty_index(self) -> bool:
        return self.twin.novelty is not None

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids) if text else []

    def decode(self, ids: Sequence[int]) -> str:
        vocab = len(self.tokenizer)
        bad = [i for i in ids if not 0 <= int(i) < vocab]
        if bad:
            raise ConfigError(f"prompt token ids must be in [0, {vocab}); got {bad[0]}")
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def complete(self, req: Request, on_choice: OnChoice | None = None) -> Output:
        """Sample ``req.n`` posts; ``on_choice(k, choice)`` hears each as soon as it is ready
        (as each post ends with ``Twin.stream``; all at the end with a twin without it)."""
        from tweettwin.ml.twin import tidy

        if req.prompt_ids is not None:
            req.prompt = self.decode(req.prompt_ids)
        prompt = tidy(req.prompt, self.twin.keep_newlines) if req.prompt else ""
        # token-id prompts are scored exactly as sent (lm-evaluation-harness counts on that)
        prompt_ids = list(req.prompt_ids) if req.prompt_ids is not None else self.encode(prompt)
        self._check_length(len(prompt_ids), req.max_tokens)
        on_choice = on_choice or (lambda k, choice: None)
        prompt_tokens = len(prompt_ids) + 1  # the separator that starts every post is read too
        if req.max_tokens == 0:  # scoring only (echo + logprobs): nothing is sampled
            choices = [Choice(prompt, prompt, "", "length", 0) for _ in range(req.n)]
            for k, c in enumerate(choices):
                on_choice(k, self._finish(req, prompt_ids, c))
            return Output(choices, prompt_tokens, 0)
        if hasattr(self.twin, "stream"):
            return self._streamed(req, prompt, prompt_ids, on_choice)
        result = self.twin.generate(prompt or None, req.n, **self._sampling(req))
        limit = req.max_tokens or result.settings.get("max_new_tokens") or 0
        choices = []
        for k, post in enumerate(result.posts):
            choices.append(
                self._finish(req, prompt_ids, self._choice(post, prompt, req.stop, limit))
            )
            on_choice(k, choices[-1])
        return Output(
            choices, prompt_tokens, result.rejected, result.empty, result.seconds, result.settings
        )

    @staticmethod
    def _sampling(req: Request) -> dict:
        return {
            "temperature": req.temperature,
            "top_p": req.top_p,
            "top_k": req.top_k,
            "min_p": req.min_p,
            "max_new_tokens": req.max_tokens,
            "seed": req.seed,
            "novelty": req.novelty_guard,
            "warm_up": req.warm_up,
            "full_vocab": req.full_vocab,
            "model_start": req.model_start,
        }

    def _streamed(self, req: Request, prompt: str, prompt_ids, on_choice: OnChoice) -> Output:
        """``Twin.stream`` (branch gen): each kept post as its sample ends."""
        from tweettwin.generate_options import PostEvent

        started = time.perf_counter()
        limit = req.max_tokens or self.twin.defaults.max_new_tokens
        choices: list[Choice] = []
        dropped = empty = 0
        for event in self.twin.stream(prompt or None, req.n, **self._sampling(req)):
            if not isinstance(event, PostEvent):
                continue
            if event.kept:
                choice = self._choice(event.text, prompt, req.stop, limit)
                if choice.finish_reason == "length" and event.tokens < limit:
                    choice.finish_reason = "stop"  # re-encoding counted differently: it ended
                choices.append(self._finish(req, prompt_ids, choice))
                on_choice(len(choices) - 1, choices[-1])
            dropped += event.reason == "copy"
            empty += event.reason == "empty"
        seconds = round(time.perf_counter() - started, 3)
        return Output(choices, len(prompt_ids) + 1, dropped, empty, seconds)

    def _check_length(self, prompt_tokens: int, max_tokens: int | None) -> None:
        room = self.max_positions - 1 - prompt_tokens
        if self.max_positions and room < max(1, max_tokens or 0):
            raise ConfigError(
                f"the prompt is {prompt_tokens} tokens; with max_tokens this model can read at "
                f"most {self.max_positions - 1} in all: shorten it"
            )

    def _choice(self, post: str, prompt: str, stop: Sequence[str], limit: int) -> Choice:
        completion = post[len(prompt) :] if prompt and post.startswith(prompt) else post
        cut = min((i for s in stop if (i := completion.find(s)) >= 0), default=-1)
        if cut >= 0:
            completion = completion[:cut]
        tokens = len(self.encode(completion))
        reason = "stop" if cut >= 0 or not limit or tokens < limit else "length"
        return Choice(completion, prompt + completion, completion, reason, tokens)

    def _finish(self, req: Request, prompt_ids, c: Choice) -> Choice:
        if req.echo:
            c.text = c.post
        if req.logprobs is not None:
            c.logprobs = self.logprobs(prompt_ids if req.echo else [], c, req.logprobs)
        return c

    def logprobs(self, prompt_ids: list[int], choice: Choice, top: int) -> dict:
        """OpenAI's legacy ``logprobs`` object for the (echoed prompt +) completion tokens."""
        from tweettwin.ml.scoring import token_logprobs

        ids = [*prompt_ids, *self.encode(choice.completion)]
        chosen, tops = token_logprobs(self.twin.logits, self.twin.sep_id, ids, top)
        pieces = [self.tokenizer.decode([i]) for i in ids]
        offsets, at = [], 0
        for piece in pieces:
            offsets.append(at)
            at += len(piece)
        top_logprobs = (
            [{self.tokenizer.decode([i]): v for i, v in t.items()} for t in tops] if top else None
        )
        return {
            "tokens": pieces,
            "token_logprobs": chosen,
            "top_logprobs": top_logprobs,
            "text_offset": offsets,
        }
