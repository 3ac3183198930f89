"""`tweettwin generate` as a front end, with a FakeTwin: flags reach the twin as GenerateOptions,
posts are printed as they come, errors are one line. (tests/ml/test_generate.py runs the command
on a real tiny model.)"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tweettwin.cli import cli
from tweettwin.generate_options import GenerateOptions, PostEvent, TokenEvent
from tweettwin.testing import FakeTwin


@pytest.fixture
def fake(monkeypatch):
    """Install a FakeTwin as the CLI's model loader; returns it (and records the loads)."""
    twin = FakeTwin(["coffee first", "rain again", "bike to work"], copies={"Today rain again"})
    twin.loads = []

    def load(model_dir, *, exact=False):
        twin.loads.append((model_dir, exact))
        return twin

    monkeypatch.setattr("tweettwin.cli.generate.load_twin", load)
    return twin


def run(*args):
    return CliRunner().invoke(cli, ["generate", "some/model", *args])


def test_flags_reach_the_twin_as_options(fake):
    res = run("Today", "-n", "2", "--seed", "5", "--temperature", "0.8", "--top-p", "0.9",
              "--top-k", "20", "--min-p", "0.05", "--max-new-tokens", "30", "--exact")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert fake.loads == [("some/model", True)]
    call = fake.calls[-1]
    assert call.prompt == "Today"
    assert call.options == GenerateOptions(
        n=2, seed=5, temperature=0.8, top_p=0.9, top_k=20, min_p=0.05, max_new_tokens=30
    )


def test_posts_one_per_line_copies_dropped_and_counted(fake):
    res = run("Today", "-n", "2")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == ["Today coffee first", "Today bike to work"]
    assert "2 posts in" in res.stderr and "1 dropped as copies of training posts" in res.stderr
    assert fake.loads == [("some/model", False)]


def test_no_novelty_guard_keeps_copies(fake):
    res = run("Today", "-n", "2", "--no-novelty-guard")
    assert res.stdout.splitlines() == ["Today coffee first", "Today rain again"]
    assert fake.calls[-1].options.novelty is False


def test_models_that_keep_line_breaks_get_a_blank_line_between_posts(fake):
    fake.keep_newlines = True
    fake._queue.clear()
    fake.add("line one\nline two", "second post")
    res = run("-n", "2")
    assert res.stdout == "line one\nline two\n\nsecond post\n"


def test_json_is_one_object(fake):
    res = run("Today", "-n", "3", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["posts"] == ["Today coffee first", "Today bike to work", "Today fake post 1"]
    assert out["rejected"] == 1 and out["sampled"] == 4 and isinstance(out["seconds"], float)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--temperature", "nan"], "temperature must be a finite number"),
        (["--temperature", "-1"], "temperature must be 0 (greedy) or more"),
        (["-n", "0"], "n must be a whole number between 1 and 1,000,000"),
        (["--top-p", "0"], "top_p must be in (0, 1]"),
    ],
)
def test_bad_options_fail_before_loading_the_model(fake, flags, message):
    res = run(*flags)
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: ") and message in res.stderr
    assert "Traceback" not in res.output and fake.loads == []


def test_fake_stream_matches_its_generate():
    twin = FakeTwin(["a b c", "d e"], copies={"Hi a b c"})
    events = list(twin.stream("Hi", n=1))
    assert [e.text for e in events if isinstance(e, TokenEvent)] == [" a", " b", " c", " d", " e"]
    assert [(e.text, e.kept, e.reason) for e in events if isinstance(e, PostEvent)] == [
        ("Hi a b c", False, "copy"),
        ("Hi d e", True, None),
    ]
    assert [c.method for c in twin.calls] == ["stream"]
