"""A real llama.cpp runtime for the export tests and bench: the ``xllamacpp`` CPU wheel (llama.cpp's
own server code, in process, no compiler). Greedy completion and per-position scoring.

Scoring asks for one token after each prefix, with a large logit bias forcing the held-out token:
llama.cpp reports the sampled token's log-probability from the model's raw logits (before the
bias sampler), so that is log p(token | prefix); ``top_logprobs[0]`` is the model's own top-1.
The slot's prompt cache makes each request evaluate about one new token.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

xllamacpp = pytest.importorskip("xllamacpp")


@dataclass
class Scores:
    logprobs: list[float]  # log p(target_i | prefix_i)
    top1: list[int]  # the runtime's most likely token at each position


@contextlib.contextmanager
def _quiet_stderr():
    """llama.cpp logs every step to fd 2; keep it out of test output (errors still raise)."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class LlamaCpp:
    def __init__(self, gguf_file: Path, n_ctx: int = 512, threads: int = 2) -> None:
        params = xllamacpp.CommonParams()
        params.model.path = str(gguf_file)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1
        started = time.perf_counter()
        with _quiet_stderr():
            self.server = xllamacpp.Server(params)
        self.load_seconds = time.perf_counter() - started

    def _complete(self, request: dict) -> dict:
        with _quiet_stderr():
            out = self.server.handle_completions(request)
        if "error" in out:
            raise RuntimeError(f"llama.cpp: {out['error']}")
        return out

    def greedy(self, prompt, n_predict: int) -> tuple[list[int], dict]:
        """Greedy tokens after ``prompt`` (a string: tokenized by llama.cpp with its bos; or ids),
        up to the end of the post (the eos token is not included)."""
        out = self._complete(
            {
                "prompt": prompt,
                "n_predict": n_predict,
                "temperature": 0.0,
                "top_k": 1,
                "n_probs": 1,
                "cache_prompt": False,
            }
        )
        choice = out["choices"][0]
        ids = [c["id"] for c in choice["logprobs"]["content"]]
        if choice.get("finish_reason") == "stop" and ids:  # the last token is the eos
            ids = ids[:-1]
        return ids, out

    def tokenize_count(self, text: str) -> int:
        _, out = self.greedy(text, 1)
        return out["usage"]["prompt_tokens"]

    def score(self, ids: list[int], start: int = 1) -> Scores:
        """log p and top-1 for each of ``ids[start:]`` given the ids before it."""
        logprobs, top1 = [], []
        for i in range(start, len(ids)):
            out = self._complete(
                {
                    "prompt": ids[:i],
                    "n_predict": 1,
                    "temperature": 0.0,
                    "n_probs": 1,
                    "logit_bias": [[ids[i], 1000.0]],
                    "cache_prompt": True,
                }
            )
            step = out["choices"][0]["logprobs"]["content"][0]
            if step["id"] != ids[i]:
                raise RuntimeError(f"the logit bias did not force token {ids[i]} ({step['id']})")
            logprobs.append(step["logprob"])
            top1.append(step["top_logprobs"][0]["id"])
        return Scores(logprobs, top1)
