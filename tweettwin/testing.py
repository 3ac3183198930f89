"""A stand-in for :class:`tweettwin.Twin` in front-end tests (CLI, web app), torch-free.

Like llm's ``MockModel``: queue canned posts, run the front end, then check what it asked for.
It validates requests with the real :class:`GenerateOptions` and yields the same events, so a
front end that works with ``FakeTwin`` works with a real model.

    twin = FakeTwin(["coffee first", "rain again"], copies={"rain again"})
    twin.generate("Today", n=1).posts      # ['Today coffee first']
    twin.calls[-1].options.n               # 1

A canned post that starts with the prompt is used as is; otherwise the prompt is put in front
(real samples always start with the prompt). Posts in ``copies`` count as copies of training
posts: the novelty guard drops them (unless ``novelty=False``) and the next canned post is
drawn, like the real resampling. When the queue runs dry, posts are numbered fillers.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tweettwin.errors import ConfigError
from tweettwin.generate_options import (
    GenerateOptions,
    GenerationResult,
    PostEvent,
    TokenEvent,
    resolve_options,
)


@dataclass(frozen=True)
class Call:
    method: str  # 'generate' or 'stream'
    prompt: str | None
    options: GenerateOptions


@dataclass
class FakeTwin:
    posts: Iterable[str] = ()
    copies: set[str] = field(default_factory=set)
    authors: list[str] = field(default_factory=list)
    keep_newlines: bool = False
    path: Path = Path("fake-twin")
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: deque[str] = deque(self.posts)
        self._filler = 0

    def add(self, *posts: str) -> None:
        """Queue more canned posts."""
        self._queue.extend(posts)

    def generate(
        self, prompt: str | None = None, options: GenerateOptions | int | None = None, **overrides
    ) -> GenerationResult:
        opts = resolve_options(options, overrides)
        self.calls.append(Call("generate", prompt, opts))
        started = time.perf_counter()
        events = [e for e in self._events(prompt, opts) if isinstance(e, PostEvent)]
        return GenerationResult(
            posts=[e.text for e in events if e.kept],
            rejected=sum(e.reason == "copy" for e in events),
            seconds=round(time.perf_counter() - started, 3),
            prompt=prompt or None,
            author=opts.author,
            seed=opts.seed,
            sampled=len(events),
            new_tokens=sum(e.tokens for e in events),
            settings={"path": "fake"},
        )

    def stream(
        self, prompt: str | None = None, options: GenerateOptions | int | None = None, **overrides
    ) -> Iterator[TokenEvent | PostEvent]:
        opts = resolve_options(options, overrides)
        self.calls.append(Call("stream", prompt, opts))
        return self._events(prompt, opts)

    def _events(
        self, prompt: str | None, opts: GenerateOptions
    ) -> Iterator[TokenEvent | PostEvent]:
        if opts.author is not None and opts.author.lstrip("@") not in self.authors:
            raise ConfigError(f"--author {opts.author}: not one of this model's authors")
        kept = sample = 0
        while kept < opts.n:
            text = self._next(prompt)
            # prompt + every delta == the post, as with a real model
            words = re.findall(r"\s*\S+", text[len(prompt) :] if prompt else text)
            for word in words:
                yield TokenEvent(sample, word)
            copy = opts.novelty and text in self.copies
            yield PostEvent(
                sample, text, kept=not copy, reason="copy" if copy else None, tokens=len(words)
            )
            kept += not copy
            sample += 1

    def _next(self, prompt: str | None) -> str:
        if self._queue:
            text = self._queue.popleft()
        else:
            self._filler += 1
            text = f"fake post {self._filler}"
        if prompt and not text.startswith(prompt):
            text = f"{prompt} {text}"
        return text
