"""Unprompted posts written as a run of posts, the way the model saw them in training.

A training block is ``S p1 S p2 S p3 ...``: one post in ~15 follows a lone separator at position 0,
the others follow earlier posts. Sampled from a lone separator, a fine-tuned model writes the
rarer kind: longer, more generic posts. So an unprompted row writes a run ``S w S p``:
the first ``warm_up`` posts are discarded, the next one is the sample. Measured on the 1-epoch
default models of three archives (200 samples, mean of seeds 0-2, MiniLM + style features;
lower is closer), classifier AUC from a lone separator / as the second post of a run:
andreruffert 0.736 / 0.680, alrocar 0.610 / 0.506, trump-2016 0.607 / 0.658; FD 0.666 / 0.654,
0.521 / 0.522, 0.515 / 0.511. It costs about twice the tokens per post.

:func:`post_steps` turns the sampler's row steps (``Sampler.stream`` with ``Runs``, which ends a
row at its last separator, ends a post at ``max_post`` tokens and a row whose warm-up reaches
that) into post steps: a row's tokens after its last warm-up separator are its post, with its own
sample index counted from ``first``.

Each row keeps one post, and a request waits for all its rows (``Runs(sep, warm_up + 1, ...)``
ends a row at its last separator): taking whichever posts of longer runs finish first would
favour short posts (it did: 16.5 words per post on trump-2016, real 18.2), and keeping the 3rd
and 4th posts of a run measured further from the real posts (andreruffert, seeds 0 / 1: AUC
0.766 / 0.762). A warm-up that reaches ``max_post`` tokens ends its row without a post: a
rambling warm-up is a poor context, and forcing a separator after it measured worse (0.694 /
0.710 against 0.655 / 0.672 unforced).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from tweettwin.ml.sampler import Step


def run_length(warm_up: int, max_post: int) -> int:
    """Tokens a run takes at most: each post at full length and its separator (``Runs``)."""
    return (warm_up + 1) * (max_post + 1)


def post_steps(
    steps: Iterator[Step], sep_id: int, *, warm_up: int, first: int = 0
) -> Iterator[Step]:
    """Post steps from the row steps of runs (see the module docstring)."""
    seps: dict[int, int] = {}  # separators each row has drawn
    posts: dict[int, int] = {}  # sample index of each row's post, once its warm-up is over
    counter = itertools.count(first)
    try:
        for step in steps:
            out: Step = []
            for r, tok, done in step:
                if not warm_up and r not in seps:  # no warm-up: the run is the post
                    seps[r], posts[r] = 0, next(counter)
                if r in posts:
                    out.append((posts[r], tok, done))
                elif tok == sep_id:
                    seps[r] = seps.get(r, 0) + 1
                    if seps[r] == warm_up:
                        posts[r] = next(counter)
            if out:
                yield out
    finally:
        getattr(steps, "close", lambda: None)()  # a closed consumer stops the decoding too
