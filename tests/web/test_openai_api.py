"""/v1 in process: the OpenAI surface on a tiny trained twin (real sampling, real tokens)."""

from __future__ import annotations

import json

import pytest


def _complete(client, **body):
    r = client.post("/v1/completions", json={"model": "tiny", **body})
    assert r.status_code == 200, r.text
    return r.json()


def _error(r, status: int, param=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and "detail" not in r.text
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param
    return body["error"]


def _events(text: str) -> list:
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_models_lists_names_not_paths(client, twin_dir):
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["tiny"]
    assert str(twin_dir) not in json.dumps(body)
    assert client.get("/v1/models/tiny").json()["id"] == "tiny"
    err = _error(client.get("/v1/models/nope"), 404)
    assert err["code"] == "model_not_found"


def test_completions_n_seed_and_real_usage(client, twin_dir):
    from transformers import AutoTokenizer

    a = _complete(client, prompt="My dream is", n=3, max_tokens=12, seed=7, temperature=1.0)
    b = _complete(client, prompt="My dream is", n=3, max_tokens=12, seed=7, temperature=1.0)
    c = _complete(client, prompt="My dream is", n=3, max_tokens=12, seed=8, temperature=1.0)
    texts = [ch["text"] for ch in a["choices"]]
    assert len(texts) == 3 and [ch["index"] for ch in a["choices"]] == [0, 1, 2]
    assert texts == [ch["text"] for ch in b["choices"]]
    assert texts != [ch["text"] for ch in c["choices"]]
    tok = AutoTokenizer.from_pretrained(twin_dir)
    usage = a["usage"]
    assert usage["prompt_tokens"] == len(tok("My dream is", add_special_tokens=False).input_ids) + 1
    assert usage["completion_tokens"] == sum(
        len(tok(t, add_special_tokens=False).input_ids) for t in texts
    )
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all(ch["finish_reason"] in ("stop", "length") for ch in a["choices"])
    assert a["novelty"] == {"guard": True, "dropped": 0}


def test_stop_strings_cut_the_text(client):
    free = _complete(client, prompt="Today", n=4, max_tokens=30, seed=3)
    cut = _complete(client, prompt="Today", n=4, max_tokens=30, seed=3, stop=[" "])
    for whole, part in zip(free["choices"], cut["choices"], strict=True):
        if " " in whole["text"]:
            assert part["text"] == whole["text"][: whole["text"].index(" ")]
            assert part["finish_reason"] == "stop"
    assert all(" " not in ch["text"] for ch in cut["choices"])


def test_prompt_lists_and_token_ids(client, twin_dir):
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(twin_dir)("Today", add_special_tokens=False).input_ids
    many = _complete(client, prompt=["Today", "My dream is"], n=2, max_tokens=8, seed=1)
    assert [ch["index"] for ch in many["choices"]] == [0, 1, 2, 3]
    by_text = _complete(client, prompt="Today", n=2, max_tokens=8, seed=1)
    by_ids = _complete(client, prompt=ids, n=2, max_tokens=8, seed=1)
    assert [c["text"] for c in by_ids["choices"]] == [c["text"] for c in by_text["choices"]]
    assert [c["text"] for c in many["choices"][:2]] == [c["text"] for c in by_text["choices"]]


def test_echo_logprobs_score_the_prompt_like_the_model(client, twin_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(twin_dir)
    model = AutoModelForCausalLM.from_pretrained(twin_dir, dtype=torch.float32).eval()
    ids = tok("Nothing beats coffee", add_special_tokens=False).input_ids
    body = _complete(client, prompt=ids, max_tokens=0, echo=True, logprobs=2)
    choice = body["choices"][0]
    assert choice["text"] == "Nothing beats coffee"
    lp = choice["logprobs"]
    assert "".join(lp["tokens"]) == "Nothing beats coffee"
    with torch.no_grad():
        logits = model(torch.tensor([[tok.eos_token_id, *ids]])).logits[0, :-1].float()
    want = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids)[:, None])[:, 0]
    # the server computes in the twin's dtype (bf16 on some CPUs): close, not bit-equal
    assert lp["token_logprobs"] == pytest.approx(want.tolist(), abs=0.15)
    assert all(len(t) == 2 for t in lp["top_logprobs"])
    assert all(
        max(t.values()) >= v - 1e-6
        for t, v in zip(lp["top_logprobs"], lp["token_logprobs"], strict=True)
    )
    assert lp["text_offset"][0] == 0 and body["usage"]["completion_tokens"] == 0


def test_streaming_completions_and_usage(client):
    plain = _complete(client, prompt="Today", n=2, max_tokens=10, seed=5)
    r = client.post(
        "/v1/completions",
        json={
            "model": "tiny",
            "prompt": "Today",
            "n": 2,
            "max_tokens": 10,
            "seed": 5,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    texts = {}
    for e in events[:-1]:
        for ch in e["choices"]:
            texts[ch["index"]] = texts.get(ch["index"], "") + ch["text"]
    assert [texts[0], texts[1]] == [c["text"] for c in plain["choices"]]
    assert events[-1]["choices"] == [] and events[-1]["usage"] == plain["usage"]


def test_chat_the_last_user_message_starts_the_post(client):
    messages = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": "My dream is"},
    ]
    r = client.post(
        "/v1/chat/completions",
        json={"model": "tiny", "messages": messages, "n": 2, "max_tokens": 10, "seed": 2},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and len(body["choices"]) == 2
    for ch in body["choices"]:
        assert ch["message"]["role"] == "assistant"
        assert ch["message"]["content"].startswith("My dream is")
    s = client.post(
        "/v1/chat/completions",
        json={
            "model": "tiny",
            "messages": messages,
            "n": 2,
            "max_tokens": 10,
            "seed": 2,
            "stream": True,
        },
    )
    content = "".join(
        ch["delta"].get("content", "")
        for e in _events(s.text)
        for ch in e["choices"]
        if ch["index"] == 0
    )
    assert content == body["choices"][0]["message"]["content"]
    _error(
        client.post(
            "/v1/chat/completions",
            json={"model": "tiny", "messages": [{"role": "system", "content": "x"}]},
        ),
        400,
        "messages",
    )


def test_every_unsupported_field_is_named(client):
    err = _error(
        client.post(
            "/v1/completions",
            json={
                "model": "tiny",
                "prompt": "x",
                "tools": [],
                "logit_bias": {"1": 2},
                "frequency_penalty": 0.5,
                "suffix": "end",
            },
        ),
        400,
    )
    for name in ("tools", "logit_bias", "frequency_penalty", "suffix"):
        assert name in err["message"]
    assert err["param"] == "tools" and err["code"] == "unsupported_parameter"
    # neutral values of OpenAI fields tweettwin has no use for are accepted
    _complete(
        client,
        prompt="x",
        max_tokens=2,
        frequency_penalty=0,
        presence_penalty=0,
        best_of=1,
        logit_bias={},
        user="someone",
    )
    chat = client.post(
        "/v1/chat/completions",
        json={
            "model": "tiny",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function"}],
            "logprobs": True,
        },
    )
    err = _error(chat, 400, "tools")
    assert "logprobs" in err["message"]


@pytest.mark.parametrize(
    "body, param",
    [
        ({"n": 0}, "n"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"seed": -1}, "seed"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 17}, "n"),
        ({"max_tokens": 257}, "max_tokens"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"model": ""}, "model"),
        ({"warm_up": 4}, "warm_up"),
        ({"warm_up": -1}, "warm_up"),
        ({"min_p": 1}, "min_p"),
        ({"min_p": -0.1}, "min_p"),
    ],
)
def test_bad_values_are_400s_naming_the_field(client, body, param):
    _error(
        client.post("/v1/completions", json={"model": "tiny", "prompt": "x", **body}), 400, param
    )


def test_errors_are_openai_shaped_everywhere(client):
    _error(
        client.post(
            "/v1/completions", content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
    )
    _error(client.get("/v1/completions"), 405)
    _error(client.get("/v1/nothing"), 404)
    _error(client.post("/v1/completions", json={"model": "nope", "prompt": "x"}), 404, "model")


def test_warm_up_chooses_runs_or_lone_posts_like_generate(app, client):
    server = app.state.tweettwin
    twin = server.pool.engine(server.pool.entry("tiny")).twin
    assert twin.warm_up == 1  # a tweettwin model: unprompted posts follow a dropped warm-up

    def posts(**extra):
        body = _complete(client, prompt="", n=3, max_tokens=20, seed=5, **extra)
        return [ch["text"] for ch in body["choices"]]

    def direct(warm_up):
        return twin.generate(None, 3, max_new_tokens=20, seed=5, warm_up=warm_up).posts

    assert posts() == posts(warm_up=1) == direct(1)
    assert posts(warm_up=0) == direct(0)
    assert posts(warm_up=0) != posts(warm_up=1)


def test_full_vocab_samples_like_generate(app, client):
    server = app.state.tweettwin
    twin = server.pool.engine(server.pool.entry("tiny")).twin
    assert twin.sampler.vocab is not None  # a tweettwin model: the posts' word pieces

    def posts(**extra):
        body = _complete(client, prompt="Today", n=3, max_tokens=20, seed=5, **extra)
        return [ch["text"] for ch in body["choices"]]

    def direct(full_vocab):  # the response carries the text after the prompt
        result = twin.generate("Today", 3, max_new_tokens=20, seed=5, full_vocab=full_vocab)
        return [p.removeprefix("Today") for p in result.posts]

    assert posts() == posts(full_vocab=False) == direct(False)
    assert posts(full_vocab=True) == direct(True)
    assert posts(full_vocab=True) != posts()


def test_model_start_samples_like_generate(app, client):
    server = app.state.tweettwin
    twin = server.pool.engine(server.pool.entry("tiny")).twin
    assert twin.start() == "posts"  # a tweettwin model: posts start as the training posts do

    def posts(**extra):
        body = _complete(client, prompt="", n=3, max_tokens=20, seed=5, **extra)
        return [ch["text"] for ch in body["choices"]]

    def direct(model_start):
        return twin.generate(None, 3, max_new_tokens=20, seed=5, model_start=model_start).posts

    assert posts() == posts(model_start=False) == direct(False)
    assert posts(model_start=True) == direct(True)
    assert posts(model_start=True) != posts()


def test_min_p_samples_like_generate(app, client):
    server = app.state.tweettwin
    twin = server.pool.engine(server.pool.entry("tiny")).twin

    def posts(**extra):
        body = _complete(client, prompt="Today", n=4, max_tokens=12, seed=5, **extra)
        return [ch["text"] for ch in body["choices"]]

    def direct(**extra):
        result = twin.generate("Today", 4, max_new_tokens=12, seed=5, **extra)
        return [p.removeprefix("Today") for p in result.posts]

    assert posts(min_p=0.3) == direct(min_p=0.3)
    assert posts(min_p=0.3) != posts()


def test_novelty_guard_drops_copies_and_says_how_many(app, client):
    server = app.state.tweettwin
    engine = server.pool.engine(server.pool.entry("tiny"))
    engine.twin.novelty.is_copy = lambda text: True  # every sample "copies" a training post
    body = _complete(client, prompt="Today", n=2, max_tokens=5, seed=1)
    assert body["choices"] == [] and body["novelty"]["dropped"] >= 2
    off = _complete(client, prompt="Today", n=2, max_tokens=5, seed=1, novelty_guard=False)
    assert len(off["choices"]) == 2 and off["novelty"] == {"guard": False, "dropped": 0}


def test_a_model_without_novelty_index_needs_the_guard_off(tiny_base, tmp_path):
    from fastapi.testclient import TestClient

    from tweettwin.web.app import create_app

    app = create_app([tiny_base], workspace=tmp_path / "ws")
    name = app.state.tweettwin.pool.catalog().popitem()[0]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.post("/v1/completions", json={"model": name, "prompt": "x", "max_tokens": 2})
        _error(r, 400, "novelty_guard")
        ok = client.post(
            "/v1/completions",
            json={"model": name, "prompt": "x", "max_tokens": 2, "novelty_guard": False},
        )
        assert ok.status_code == 200


def test_a_full_queue_answers_503_with_retry_after(app, client):
    app.state.tweettwin.queue.pending = app.state.tweettwin.limits.queue_size
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": "x", "max_tokens": 2})
    err = _error(r, 503)
    assert int(r.headers["retry-after"]) >= 1 and err["code"] == "queue_full"
    s = client.post("/v1/completions", json={"model": "tiny", "prompt": "x", "stream": True})
    _error(s, 503)
    app.state.tweettwin.queue.pending = 0
    assert client.post("/v1/completions", json={"model": "tiny", "prompt": "x"}).status_code == 200


def test_an_error_during_a_stream_arrives_as_an_event(app, client):
    from tweettwin.errors import ModelError

    def broken(entry):
        raise ModelError("the weights are unreadable")

    app.state.tweettwin.pool.engine = broken
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": "x", "stream": True})
    assert r.status_code == 200
    (event,) = _events(r.text)
    assert event["error"]["message"] == "the weights are unreadable"


def test_models_load_lazily_into_a_bounded_lru(twin_dir, tiny_base, tmp_path):
    from tweettwin.web.models import ModelPool, default_loader

    loads = []

    def counting(path):
        loads.append(path)
        return default_loader(path)

    pool = ModelPool(tmp_path / "ws", [twin_dir, tiny_base], max_loaded=1, loader=counting)
    assert loads == []  # listing loads nothing
    a, b = pool.catalog().values()
    first = pool.engine(a)
    assert pool.engine(a) is first and len(loads) == 1
    pool.engine(b)
    assert pool.engine(a) is not first and len(loads) == 3  # a was evicted by b
