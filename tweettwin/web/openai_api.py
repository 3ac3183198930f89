"""OpenAI-compatible ``/v1``: ``GET /v1/models``, ``POST /v1/completions``, ``POST
/v1/chat/completions``. Request and response models live here, at module level.

Every field in a request is either honoured or refused with a 400 naming it (``param``): the
models forbid unknown fields, and OpenAI fields with no tweettwin meaning are accepted only at
their neutral value (``frequency_penalty: 0``, ``best_of: 1``...). Extensions: ``top_k``, ``min_p``,
``novelty_guard`` (on by default: samples that copy a training post are dropped and resampled;
``novelty.dropped`` in the response says how many) and ``warm_up`` (posts written and dropped
before each unprompted post, as ``generate --warm-up``). A twin is not a chat model: a chat
request's last user message is the start of the post, and the reply is the whole post.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tweettwin.generate_options import MAX_WARM_UP
from tweettwin.web import engine as eng
from tweettwin.web.errors import ApiError, from_exception
from tweettwin.web.openai_responses import choice_chunks, final_chunk, response_body

router = APIRouter(prefix="/v1", tags=["openai"])
MAX_SEED = 2**53


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _neutral(value: Any, neutral: tuple, what: str) -> Any:
    if value not in neutral:
        raise ValueError(f"not supported by tweettwin ({what})")
    return value


class StreamOptions(_Strict):
    include_usage: bool = False


class Sampling(_Strict):
    """Fields shared by completions and chat completions."""

    model: str = Field(min_length=1, max_length=200)
    n: int = Field(1, ge=1, le=128, description="Posts to write (capped by the server).")
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy.")
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=0, le=100_000, description="Extension; 0 = off.")
    min_p: float | None = Field(
        None, ge=0, lt=1, description="Extension (as vLLM and llama.cpp): 0 = off."
    )
    stop: str | list[str] | None = Field(None, description="Up to 4 stop strings.")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Same seed, same posts.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256, description="Accepted; not stored.")
    novelty_guard: bool = Field(True, description="Extension: drop copies of training posts.")
    warm_up: int | None = Field(
        None,
        ge=0,
        le=MAX_WARM_UP,
        description="Extension: posts written and dropped before each unprompted post "
        "(default: the model's; 0 = each from a lone separator).",
    )
    full_vocab: bool = Field(
        False,
        description="Extension: sample from the whole vocabulary, not only the word pieces the "
        "training posts use (a tweettwin model's default).",
    )
    model_start: bool = Field(
        False,
        description="Extension: the model picks the first token of an unprompted post, instead "
        "of drawing it from how the training posts start (a tweettwin model's default).",
    )
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _no_penalty(cls, v):
        return _neutral(v, (None, 0, 0.0), "only 0")

    @field_validator("logit_bias")
    @classmethod
    def _no_bias(cls, v):
        return _neutral(v or None, (None,), "only an empty map")

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        stops = [v] if isinstance(v, str) else list(v or [])
        if len(stops) > 4 or any(not s or len(s) > 200 for s in stops):
            raise ValueError("give up to 4 non-empty stop strings of at most 200 characters")
        return stops


class CompletionRequest(Sampling):
    prompt: str | list[str] | list[int] | list[list[int]] = Field(
        "", description="The start of the post: text, texts, token ids or lists of token ids."
    )
    max_tokens: int | None = Field(16, ge=0, le=100_000, description="0 only with echo.")
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=5)
    best_of: int | None = None
    suffix: str | None = None

    @field_validator("best_of")
    @classmethod
    def _best_of(cls, v):
        return _neutral(v, (None, 1), "only 1")

    @field_validator("suffix")
    @classmethod
    def _suffix(cls, v):
        return _neutral(v, (None,), "no insertion: a post only grows at its end")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ResponseFormat(_Strict):
    type: Literal["text"]


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=100_000)
    max_completion_tokens: int | None = Field(None, ge=1, le=100_000)
    logprobs: bool | None = None
    response_format: ResponseFormat | None = None

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, v):
        return _neutral(v, (None, False), "use /v1/completions with logprobs")


# ---------------------------------------------------------------------------- responses


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "tweettwin"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Novelty(BaseModel):
    guard: bool
    dropped: int = Field(description="Samples dropped as copies of training posts.")


class LogProbs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]] | None = None
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: LogProbs | None = None
    finish_reason: Literal["stop", "length"]


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    novelty: Novelty


class ChatMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatMessage
    logprobs: None = None
    finish_reason: Literal["stop", "length"]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    novelty: Novelty


# ------------------------------------------------------------------------------- routes


def _server(request: Request):
    return request.app.state.tweettwin


@router.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    pool = _server(request).pool
    return ModelList(data=[ModelCard(id=e.id, created=e.created) for e in pool.catalog().values()])


@router.get("/models/{model_id}", response_model=ModelCard)
async def get_model(model_id: str, request: Request) -> ModelCard:
    entry = _server(request).pool.entry(model_id)
    return ModelCard(id=entry.id, created=entry.created)


def _prompts(prompt) -> list[tuple[str, list[int] | None]]:
    if isinstance(prompt, str):
        return [(prompt, None)]
    if prompt and all(isinstance(p, int) for p in prompt):
        return [("", list(prompt))]
    if not prompt:
        return [("", None)]
    return [(p, None) if isinstance(p, str) else ("", list(p)) for p in prompt]


def _check_limits(server, body: Sampling, texts: list[str], ids: list, max_tokens: int | None):
    lim = server.limits
    if len(texts) > lim.max_prompts:
        raise ApiError(400, f"at most {lim.max_prompts} prompts per request", param="prompt")
    if body.n * len(texts) > lim.max_n:
        raise ApiError(
            400,
            f"n is {body.n * len(texts)} posts in all; this server writes at most "
            f"{lim.max_n} per request",
            param="n",
        )
    if max_tokens is not None and max_tokens > lim.max_tokens:
        raise ApiError(
            400,
            f"max_tokens is {max_tokens}; this server allows at most {lim.max_tokens}",
            param="max_tokens",
        )
    longest = max([len(t) for t in texts] + [len(i or []) for i in ids])
    if longest > lim.max_prompt_chars:
        raise ApiError(
            400,
            f"the prompt is {longest} characters (or tokens); at most "
            f"{lim.max_prompt_chars} are allowed",
            param="prompt",
        )


@router.post("/completions", response_model=Completion)
async def completions(body: CompletionRequest, request: Request):
    server = _server(request)
    prompts = _prompts(body.prompt)
    _check_limits(server, body, [p for p, _ in prompts], [i for _, i in prompts], body.max_tokens)
    if body.max_tokens == 0 and not body.echo:
        raise ApiError(
            400, "max_tokens 0 writes nothing; add echo to score the prompt", param="max_tokens"
        )
    entry = server.pool.entry(body.model)
    reqs = [
        eng.Request(
            prompt=text,
            prompt_ids=ids,
            n=body.n,
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            top_k=body.top_k,
            min_p=body.min_p,
            seed=body.seed,
            stop=body.stop or (),
            novelty_guard=body.novelty_guard,
            warm_up=body.warm_up,
            full_vocab=body.full_vocab,
            model_start=body.model_start,
            logprobs=body.logprobs,
            echo=body.echo,
        )
        for text, ids in prompts
    ]
    return await _respond(server, entry, reqs, body, chat=False)


@router.post("/chat/completions", response_model=ChatCompletion)
async def chat_completions(body: ChatRequest, request: Request):
    server = _server(request)
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise ApiError(
            400, "messages need a user message: it is the start of the post", param="messages"
        )
    prompt = users[-1].text()
    max_tokens = body.max_completion_tokens or body.max_tokens
    _check_limits(server, body, [prompt], [], max_tokens)
    entry = server.pool.entry(body.model)
    req = eng.Request(
        prompt=prompt,
        n=body.n,
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        min_p=body.min_p,
        seed=body.seed,
        stop=body.stop or (),
        novelty_guard=body.novelty_guard,
        warm_up=body.warm_up,
        full_vocab=body.full_vocab,
        model_start=body.model_start,
    )
    return await _respond(server, entry, [req], body, chat=True)


def _engine(server, entry, reqs: list[eng.Request]):
    engine = server.pool.engine(entry)
    if any(r.novelty_guard for r in reqs) and not engine.has_novelty_index:
        raise ApiError(
            400,
            f"model {entry.id!r} has no novelty index (not trained by tweettwin); "
            'send "novelty_guard": false',
            param="novelty_guard",
        )
    return engine


def _generate(server, entry, reqs: list[eng.Request], put=None) -> list[eng.Output]:
    """On the worker thread: every request's posts; ``put((i, k, choice))`` as each is ready."""
    engine = _engine(server, entry, reqs)
    if put is None:
        return [engine.complete(r) for r in reqs]
    return [engine.complete(r, lambda k, c, i=i: put((i, k, c))) for i, r in enumerate(reqs)]


async def _respond(server, entry, reqs, body: Sampling, *, chat: bool):
    kind = "chatcmpl" if chat else "cmpl"
    head = {"id": f"{kind}-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": entry.id}
    if not body.stream:
        outputs = await server.queue.run(_generate, server, entry, reqs)
        return response_body(head, outputs, body, chat)
    server.queue.check()  # a full queue is a real 503, before the stream starts
    usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events():
        loop, ready = asyncio.get_running_loop(), asyncio.Queue()

        def put(item) -> None:  # called on the worker thread
            loop.call_soon_threadsafe(ready.put_nowait, item)

        task = asyncio.ensure_future(server.queue.run(_generate, server, entry, reqs, put))
        task.add_done_callback(lambda _: ready.put_nowait(None))
        try:
            while (item := await ready.get()) is not None:
                i, k, choice = item
                for chunk in choice_chunks(head, i * body.n + k, choice, chat, usage):
                    yield _sse(chunk)
            yield _sse(final_chunk(head, task.result(), body, chat, usage))
        except Exception as ex:  # the status line is gone: the error travels as an event
            yield _sse(from_exception(ex).body())
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _sse(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
