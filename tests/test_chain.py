"""Runs of posts (ml/chain.py): row steps in, post steps out, without a model."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from tweettwin.ml.chain import post_steps  # noqa: E402

S = 0  # the separator


def row_steps(*rows: list[int | None]):
    """Sampler-style steps from each row's tokens (None: the row drew a stop token and ends)."""
    longest = max(len(r) for r in rows)
    for t in range(longest):
        step = []
        for r, toks in enumerate(rows):
            if t < len(toks) and (t == 0 or toks[t - 1] is not None):
                step.append((r, toks[t], toks[t] is None or t + 1 == longest))
        yield step


def posts_of(steps) -> dict[int, tuple[list[int], bool]]:
    """Each post's tokens and whether it got a done step."""
    out: dict[int, tuple[list[int], bool]] = {}
    for step in steps:
        for post, tok, done in step:
            toks, was_done = out.setdefault(post, ([], False))
            assert not was_done, f"post {post} got a step after it was done"
            if tok is not None:
                toks.append(tok)
            out[post] = (toks, done)
    return out


def test_the_warm_up_post_is_dropped_and_the_next_kept():
    # as the sampler writes a run: warm-up, separator, post, then None (the last separator)
    steps = row_steps([7, 7, S, 1, 2, None])
    got = posts_of(post_steps(steps, S, warm_up=1))
    assert got == {0: ([1, 2], True)}


def test_rows_get_distinct_sample_indices_from_first():
    steps = row_steps([9, S, 1, 2, None], [9, 9, S, 5, None])
    got = posts_of(post_steps(steps, S, warm_up=1, first=10))
    assert sorted(got) == [10, 11]
    assert sorted(toks for toks, _ in got.values()) == [[1, 2], [5]]


def test_a_row_that_ends_in_its_warm_up_writes_no_post():
    steps = row_steps([9, 9, 9, None], [9, S, 4, None])
    got = posts_of(post_steps(steps, S, warm_up=1))
    assert got == {0: ([4], True)}


def test_two_warm_ups_keep_the_third_post():
    steps = row_steps([9, S, 8, S, 3, None])
    assert posts_of(post_steps(steps, S, warm_up=2)) == {0: ([3], True)}


def test_no_warm_up_keeps_the_first_post():
    steps = row_steps([1, 2, None])
    assert posts_of(post_steps(steps, S, warm_up=0)) == {0: ([1, 2], True)}


def test_runs_force_a_posts_end_at_max_post_and_end_a_rambling_warm_up():
    """The sampler's side (``Runs``): the kept post gets the separator after max_post tokens
    and the row ends there; a warm-up that long ends its row; a row ends at its last sep."""
    import torch

    from tweettwin.ml.sampler import Runs, _ends

    runs, stop = Runs(sep=S, warm_up=1, max_post=2), torch.tensor([99])
    # rows: in the post at max_post / in the warm-up at max_post / drawing its last separator
    seps, lengths = torch.tensor([1, 0, 1]), torch.tensor([2, 2, 1])
    tokens, ended = _ends(torch.tensor([5, 6, S]), stop, runs, seps, lengths)
    assert tokens.tolist() == [S, S, S] and ended.tolist() == [True, True, True]
    # a row mid-post and a row ending its warm-up go on
    seps, lengths = torch.tensor([1, 0]), torch.tensor([1, 1])
    tokens, ended = _ends(torch.tensor([5, S]), stop, runs, seps, lengths)
    assert tokens.tolist() == [5, S] and ended.tolist() == [False, False]
    assert seps.tolist() == [1, 1] and lengths.tolist() == [2, 0]


def test_closing_the_posts_closes_the_decoding():
    closed = []

    def decoding():
        try:
            yield from row_steps([9, S, 1, 2, 3, None])
        finally:
            closed.append(True)

    posts = post_steps(decoding(), S, warm_up=1)
    next(posts)
    posts.close()
    assert closed == [True]
