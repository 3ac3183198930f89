"""The one place the server touches a loaded twin: text in, choices and real token counts out.

    engine = Engine(Twin.load(model_dir))
    out = engine.complete(Request(prompt="My dream is", n=3, max_tokens=40, seed=1))
    out.choices[0].text, out.dropped, out.prompt_tokens

An adapter over today's ``Twin.generate`` (whole posts); when ``Twin.stream`` and
``GenerateOptions`` land, only this module changes. Posts start with the prompt, as in training;
a completion is the text after it (``echo`` puts the prompt back).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    seed: int | None = None
    stop: Sequence[str] = ()
    novelty_guard: bool = True
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

    def complete(self, req: Request) -> Output:
        from tweettwin.ml.twin import tidy

        if req.prompt_ids is not None:
            req.prompt = self.decode(req.prompt_ids)
        prompt = tidy(req.prompt, self.twin.keep_newlines) if req.prompt else ""
        # token-id prompts are scored exactly as sent (lm-evaluation-harness counts on that)
        prompt_ids = list(req.prompt_ids) if req.prompt_ids is not None else self.encode(prompt)
        self._check_length(len(prompt_ids), req.max_tokens)
        if req.max_tokens == 0:  # scoring only (echo + logprobs): nothing is sampled
            choices = [Choice(prompt, prompt, "", "length", 0) for _ in range(req.n)]
            return self._finish(req, prompt_ids, choices, Output(choices, len(prompt_ids) + 1, 0))
        result = self.twin.generate(
            prompt or None,
            req.n,
            temperature=req.temperature,
            top_p=req.top_p,
            top_k=req.top_k,
            max_new_tokens=req.max_tokens,
            seed=req.seed,
            novelty=req.novelty_guard,
        )
        limit = req.max_tokens or result.settings.get("max_new_tokens") or 0
        choices = [self._choice(post, prompt, req.stop, limit) for post in result.posts]
        out = Output(
            choices,
            len(prompt_ids) + 1,  # the separator that starts every post is read too
            result.rejected,
            result.empty,
            result.seconds,
            result.settings,
        )
        return self._finish(req, prompt_ids, choices, out)

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

    def _finish(self, req: Request, prompt_ids, choices: list[Choice], out: Output) -> Output:
        for c in choices:
            if req.echo:
                c.text = c.post
            if req.logprobs is not None:
                c.logprobs = self.logprobs(prompt_ids if req.echo else [], c, req.logprobs)
        return out

    def logprobs(self, prompt_ids: list[int], choice: Choice, top: int) -> dict:
        """OpenAI's legacy ``logprobs`` object for the (echoed prompt +) completion tokens."""
        from tweettwin.ml.scoring import token_logprobs

        ids = [*prompt_ids, *self.encode(choice.completion)]
        chosen, tops = token_logprobs(self.twin.model, self.twin.sep_id, ids, top)
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
