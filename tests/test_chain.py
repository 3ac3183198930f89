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
                step.append((r, toks[t], toks[t] is not None and t + 1 == longest))
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


def test_the_warm_up_post_is_dropped_and_later_posts_kept():
    steps = row_steps([7, 7, S, 1, 2, S, 3, S, 4, 4])
    got = posts_of(post_steps(steps, S, warm_up=1, max_post=3, run=10))
    # 7 7: warm-up; [1 2] and [3] end at a separator; 4 4 could not end before the run does
    assert [toks for toks, _ in got.values()] == [[1, 2], [3]]
    assert all(done for _, done in got.values())


def test_rows_get_distinct_sample_indices_from_first():
    steps = row_steps([9, S, 1, S, 2, S], [9, S, 5, S, 6, S])
    got = posts_of(post_steps(steps, S, warm_up=1, max_post=2, run=6, first=10))
    assert sorted(got) == [10, 11, 12, 13]
    assert sorted(toks[0] for toks, _ in got.values()) == [1, 2, 5, 6]


def test_a_post_at_max_post_ends_there_and_the_row_skips_to_its_next_separator():
    steps = row_steps([9, S, 1, 2, 3, 4, S, 5, S, 8, 8, 8])
    got = posts_of(post_steps(steps, S, warm_up=1, max_post=2, run=10))
    assert [toks for toks, _ in got.values()] == [[1, 2], [5]]
    assert all(done for _, done in got.values())


def test_a_stop_token_ends_the_post_and_the_row():
    steps = row_steps([9, S, 1, 2, None])
    got = posts_of(post_steps(steps, S, warm_up=1, max_post=4, run=20))
    assert got == {0: ([1, 2], True)}


def test_no_warm_up_keeps_the_first_post():
    steps = row_steps([1, S, 2, S])
    got = posts_of(post_steps(steps, S, warm_up=0, max_post=2, run=4))
    assert [toks for toks, _ in got.values()] == [[1], [2]]


def test_closing_the_posts_closes_the_decoding():
    closed = []

    def decoding():
        try:
            yield from row_steps([9, S, 1, S, 2, S, 3, S])
        finally:
            closed.append(True)

    posts = post_steps(decoding(), S, warm_up=1, max_post=2, run=8)
    next(posts)
    posts.close()
    assert closed == [True]
