"""The generation contract's checks: what a CLI flag, a Python call or a request body gets back."""

from __future__ import annotations

import math

import pytest

from tweettwin.errors import ConfigError
from tweettwin.generate_options import MAX_N, GenerateOptions, resolve_options


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", math.nan, "temperature must be a finite number"),
        ("temperature", math.inf, "temperature must be a finite number"),
        ("temperature", -0.5, "temperature must be 0 .greedy. or more, not -0.5"),
        ("top_p", 0.0, r"top_p must be in \(0, 1\], not 0.0"),
        ("top_p", 1.5, r"top_p must be in \(0, 1\]"),
        ("top_p", math.nan, "top_p must be a finite number"),
        ("top_k", -1, r"top_k must be a whole number 0 \(off\) or more, not -1"),
        ("min_p", 1.0, r"min_p must be in \[0, 1\), not 1.0"),
        ("min_p", -0.1, r"min_p must be in \[0, 1\)"),
        ("min_p", math.nan, "min_p must be a finite number"),
        ("n", 0, "n must be a whole number between 1 and 1,000,000, not 0"),
        ("n", MAX_N + 1, "n must be a whole number between 1 and"),
        ("n", 2.5, "n must be a whole number"),
        ("n", True, "n must be a whole number"),
        ("max_new_tokens", 0, "max_new_tokens must be a whole number between 1 and"),
        ("temperature", "hot", "temperature must be a finite number"),
        ("novelty", "yes", "novelty must be true or false"),
    ],
)
def test_bad_values_are_one_clear_config_error(field, value, message):
    with pytest.raises(ConfigError, match=message):
        GenerateOptions(**{field: value})


def test_defaults_leave_sampling_to_the_model_folder():
    opts = GenerateOptions()
    assert (opts.n, opts.novelty) == (10, True)
    assert opts.temperature is opts.top_p is opts.top_k is opts.min_p is opts.max_new_tokens is None
    assert GenerateOptions(n=MAX_N, temperature=0, top_p=1, top_k=0).n == MAX_N


def test_request_fields_unknown_keys_are_named():
    assert GenerateOptions.from_dict({"n": 3, "seed": 4}) == GenerateOptions(n=3, seed=4)
    with pytest.raises(ConfigError, match="unknown generation option temprature; known: author"):
        GenerateOptions.from_dict({"temprature": 1.0})


def test_overrides_and_n_as_the_second_argument():
    base = GenerateOptions(n=4, temperature=0.7)
    assert resolve_options(base, {"seed": 1, "top_k": None}) == GenerateOptions(
        n=4, temperature=0.7, seed=1
    )
    assert resolve_options(7, {"novelty": False}) == GenerateOptions(n=7, novelty=False)
    assert resolve_options(None, {}) == GenerateOptions()
    with pytest.raises(ConfigError, match="options must be GenerateOptions or n"):
        resolve_options({"n": 2}, {})
    with pytest.raises(ConfigError, match="unknown generation option"):
        resolve_options(None, {"bogus": 1})


def test_help_text_is_reused_by_the_cli():
    from click.testing import CliRunner

    from tweettwin.cli import cli

    out = CliRunner().invoke(cli, ["generate", "--help"], terminal_width=400).output
    for name in ("n", "temperature", "top_p", "seed"):
        assert " ".join(GenerateOptions.help(name).split()) in " ".join(out.split())
