"""The bodies of ``/v1`` answers: whole responses and server-sent chunks, from engine outputs.

Prompt ``i``'s choices are indexes ``i*n ... i*n+n-1``; ``usage`` counts real tokens;
``novelty`` says whether the guard was on and how many samples it dropped.
"""

from __future__ import annotations

from tweettwin.web import engine as eng


def flat(outputs: list[eng.Output], n: int) -> list[tuple[int, eng.Choice]]:
    """(index, choice) across prompts: prompt i's choices are indexes i*n ... i*n+n-1."""
    return [(i * n + j, c) for i, out in enumerate(outputs) for j, c in enumerate(out.choices)]


def usage_of(outputs: list[eng.Output]) -> dict:
    prompt = sum(o.prompt_tokens for o in outputs)
    completion = sum(o.completion_tokens for o in outputs)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def novelty_of(outputs, body) -> dict:
    return {"guard": body.novelty_guard, "dropped": sum(o.dropped for o in outputs)}


def response_body(head: dict, outputs, body, chat: bool) -> dict:
    if chat:
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": c.post},
                "logprobs": None,
                "finish_reason": c.finish_reason,
            }
            for i, c in flat(outputs, body.n)
        ]
        obj = "chat.completion"
    else:
        choices = [
            {"index": i, "text": c.text, "logprobs": c.logprobs, "finish_reason": c.finish_reason}
            for i, c in flat(outputs, body.n)
        ]
        obj = "text_completion"
    return {
        **head,
        "object": obj,
        "choices": choices,
        "usage": usage_of(outputs),
        "novelty": novelty_of(outputs, body),
    }


def choice_chunks(head: dict, index: int, c: eng.Choice, chat: bool, usage: bool) -> list[dict]:
    """The chunks of one finished post (a chat post opens with the assistant role)."""
    extra = {"usage": None} if usage else {}
    if chat:
        obj = "chat.completion.chunk"
        deltas = [
            ({"role": "assistant", "content": ""}, None),
            ({"content": c.post}, c.finish_reason),
        ]
        return [
            {
                **head,
                "object": obj,
                **extra,
                "choices": [{"index": index, "delta": d, "logprobs": None, "finish_reason": r}],
            }
            for d, r in deltas
        ]
    choice = {
        "index": index,
        "text": c.text,
        "logprobs": c.logprobs,
        "finish_reason": c.finish_reason,
    }
    return [{**head, "object": "text_completion", "choices": [choice], **extra}]


def final_chunk(head: dict, outputs, body, chat: bool, usage: bool) -> dict:
    """The last chunk: no choices, the novelty count, and the usage when asked for."""
    obj = "chat.completion.chunk" if chat else "text_completion"
    last = {"novelty": novelty_of(outputs, body)}
    if usage:
        last["usage"] = usage_of(outputs)
    return {**head, "object": obj, "choices": [], **last}
