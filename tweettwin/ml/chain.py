"""Unprompted posts written as a run of posts, the way the model saw them in training.

A training block is ``S p1 S p2 S p3 ...``: one post in ~15 follows a lone separator at position 0,
the others follow earlier posts. Sampled from a lone separator, a fine-tuned model writes the
rarer kind: longer, more generic posts. So an unprompted row writes a run ``S w S p``:
the first ``warm_up`` posts are discarded, the next one is the sample. Measured on the 1-epoch
default models of three archives (200 samples, mean of seeds 0-2, MiniLM + style features;
lower is closer), classifier AUC from a lone separator / as the second post of a run:
andreruffert 0.736 / 0.680, alrocar 0.610 / 0.506, trump-2016 0.607 / 0.658; FD 0.666 / 0.654,
0.521 / 0.522, 0.515 / 0.511. It costs about twice the tokens per post.

:func:`post_steps` turns the sampler's row steps (``Sampler.stream`` with ``Runs``: the separator
ends a row only at its last post) into post steps: each post gets its own sample index, counted
from ``first``. A row starts a new post only while ``max_post`` tokens still fit in its run, so
no post is ever cut by the end of the run; a post that reaches ``max_post`` ends there (as a
lone-separator sample would) and the row skips to its next separator.

Each row keeps one post, and a request waits for all its rows (``Runs(sep, warm_up + 1, ...)``
ends a row at its last separator): taking whichever posts of longer runs finish first would
favour short posts (it did: 16.5 words per post on trump-2016, real 18.2), and keeping the 3rd
and 4th posts of a run measured further from the real posts (andreruffert, seeds 0 / 1: AUC
0.766 / 0.762). A warm-up that
reaches ``max_post`` tokens ends its row without a post: a rambling warm-up is a poor context, and
forcing a separator after it measured worse (0.694 / 0.710 against 0.655 / 0.672 unforced).
"""

from __future__ import annotations

from collections.abc import Iterator

from tweettwin.ml.sampler import Step


def run_length(warm_up: int, max_post: int) -> int:
    """Tokens a run takes at most: each post at full length and its separator (``Runs``)."""
    return (warm_up + 1) * (max_post + 1)


class _Row:
    __slots__ = ("skip", "post", "length", "spill", "position")

    def __init__(self, warm_up: int) -> None:
        self.skip = warm_up  # posts still to discard
        self.post: int | None = None  # sample index of the post being written
        self.length = 0  # tokens of that post so far
        self.spill = False  # past max_post or out of room: discard up to the next separator
        self.position = 0  # tokens of the run so far


def post_steps(
    steps: Iterator[Step], sep_id: int, *, warm_up: int, max_post: int, run: int, first: int = 0
) -> Iterator[Step]:
    """Post steps from row steps of runs ``run`` tokens long (see the module docstring)."""
    rows: dict[int, _Row] = {}
    counter = iter(range(first, 1 << 62))
    try:
        for step in steps:
            out: Step = []
            for r, tok, _ in step:
                row = rows.setdefault(r, _Row(warm_up))
                row.position += 1
                event = _advance(row, tok, sep_id, max_post, run, counter)
                if event is not None:
                    out.append(event)
            if out:
                yield out
    finally:
        getattr(steps, "close", lambda: None)()  # a closed consumer stops the decoding too


def _advance(row: _Row, tok: int | None, sep_id: int, max_post: int, run: int, counter):
    """One token of a row's run: the post step it makes, if any."""
    if tok is None or tok == sep_id:  # a post ends (None: a stop token, and the row ends)
        event = None if row.post is None else (row.post, None, True)
        if row.post is None and row.skip and not row.spill:
            row.skip -= 1
        row.post, row.length, row.spill = None, 0, False
        return event
    if row.skip or row.spill:
        return None
    if row.post is None:
        if row.position - 1 + max_post > run:  # it might not end before the run does
            row.spill = True
            return None
        row.post = next(counter)
    row.length += 1
    full = row.length >= max_post
    event = (row.post, tok, full)
    if full:
        row.post, row.spill = None, True
    return event
