"""The one secret redactor shared by run records, the HTTP client and the Hub code."""

from __future__ import annotations

import pytest

from tweettwin.ingest.fetch.http import HttpClient
from tweettwin.redaction import REDACTED, redact, scrub

HF = "hf_" + "a1B2c3D4e5" * 4


@pytest.mark.parametrize(
    "text, expected",
    [
        ("GET http://user:secret@host/api failed", "GET http://***@host/api failed"),
        ("https://tok3n@example.org/x?y=1", "https://***@example.org/x?y=1"),
        ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer ***"),
        (f"push with {HF} refused", "push with *** refused"),
        ("sk-" + "x" * 24, "***"),
    ],
)
def test_redact_catches_every_shape(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "mastodon:@alice@mastodon.social",  # a handle, not URL credentials
        "https://host/@alice@other.example/statuses",  # an "@" in the path
        "needs a Bearer token",  # the word, not a token
        "lr 3e-4 for 2 epochs",
    ],
)
def test_redact_leaves_ordinary_text(text):
    assert redact(text) == text


def test_redact_known_values_and_secret_env(monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", "plain-looking-value")
    monkeypatch.setenv("TWEETTWIN_API_KEY", "another-plain-value")
    monkeypatch.setenv("TWEETTWIN_WORKSPACE", "/tmp/not-a-secret-at-all")
    text = "plain-looking-value another-plain-value held-by-caller /tmp/not-a-secret-at-all"
    assert redact(text, ["held-by-caller"]) == "*** *** *** /tmp/not-a-secret-at-all"


def test_scrub_redacts_secret_keys_and_nested_strings():
    value = {"token": "short", "empty_token": "", "nested": [{"url": "http://a:b@h"}], "n": 1}
    assert scrub(value) == {
        "token": REDACTED,
        "empty_token": "",
        "nested": [{"url": "http://***@h"}],
        "n": 1,
    }


def test_http_client_and_hub_use_the_same_redactor():
    client = HttpClient()
    client.add_secret("caller-held-token")
    message = "caller-held-token at http://u:p@host"
    assert (
        client.redact(message) == redact(message, ["caller-held-token"]) == "*** at http://***@host"
    )
    client.close()


def test_hub_errors_go_through_the_redactor():
    pytest.importorskip("huggingface_hub")
    from tweettwin.publish.hub import _hub_error

    error = _hub_error(
        RuntimeError("caller-held-token via http://u:p@proxy"), "me/twin", "caller-held-token"
    )
    assert str(error).endswith("RuntimeError: *** via http://***@proxy")
