"""The official ``openai`` client, strict response validation on, against `tweettwin serve`
running as its own process on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.web.serving import start_server

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def server(twin_dir, tmp_path_factory):
    proc, url = start_server([str(twin_dir)], tmp_path_factory.mktemp("ws"))
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def oa(server):
    return openai.OpenAI(
        base_url=f"{server}/v1", api_key="unused", _strict_response_validation=True, max_retries=0
    )


def test_list_models(oa):
    assert [m.id for m in oa.models.list()] == ["tiny"]


def test_completions_n3_seed_and_stop(oa):
    a = oa.completions.create(model="tiny", prompt="My dream is", n=3, max_tokens=12, seed=11)
    b = oa.completions.create(model="tiny", prompt="My dream is", n=3, max_tokens=12, seed=11)
    assert len(a.choices) == 3 and [c.text for c in a.choices] == [c.text for c in b.choices]
    assert a.usage.total_tokens == a.usage.prompt_tokens + a.usage.completion_tokens > 0
    stopped = oa.completions.create(
        model="tiny", prompt="My dream is", n=3, max_tokens=12, seed=11, stop=[" "]
    )
    assert all(" " not in c.text for c in stopped.choices)
    assert stopped.model_extra["novelty"]["guard"] is True


def test_streaming(oa):
    chunks = list(
        oa.completions.create(
            model="tiny",
            prompt="Today",
            n=2,
            max_tokens=10,
            seed=4,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.text for ch in chunks for c in ch.choices if c.index == 0)
    plain = oa.completions.create(model="tiny", prompt="Today", n=2, max_tokens=10, seed=4)
    assert text == plain.choices[0].text
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens


def test_chat(oa):
    r = oa.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "My dream is"}], max_tokens=10, seed=1
    )
    assert r.choices[0].message.content.startswith("My dream is")
    stream = oa.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "My dream is"}],
        max_tokens=10,
        seed=1,
        stream=True,
    )
    content = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert content == r.choices[0].message.content


def test_errors_reach_the_client_in_openai_shape(oa):
    with pytest.raises(openai.BadRequestError) as bad:
        oa.completions.create(model="tiny", prompt="x", presence_penalty=1.5)
    assert bad.value.body["param"] == "presence_penalty"
    with pytest.raises(openai.NotFoundError) as missing:
        oa.completions.create(model="nobody", prompt="x")
    assert missing.value.body["code"] == "model_not_found"


def test_a_public_bind_needs_the_key(twin_dir, tmp_path):
    proc, url = start_server([str(twin_dir), "--host", "0.0.0.0", "--api-key", "k3y"], tmp_path)
    try:
        url = url.replace("127.0.0.1", "localhost")
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
        ok = openai.OpenAI(base_url=f"{url}/v1", api_key="k3y", max_retries=0).models.list()
        assert [m.id for m in ok] == ["tiny"]
    finally:
        proc.terminate()
        proc.wait(10)
