"""From a dataset folder to training blocks and validation batches.

Layout of the token stream (``S`` = the separator, which is bos = eos of the saved tokenizer):

    S post1 S post2 S post3 S ...        (optionally each post starts with "@handle: ")

so every post starts right after an ``S`` (as a prompt encoded by the saved tokenizer does) and the
model learns to emit ``S`` when a post is over. Posts are reshuffled each epoch and packed into
fixed blocks that each begin at a post (``S`` at position 0, as when sampling): packing, not
padding, so no compute is spent on pad tokens.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from tweettwin.errors import DatasetError

FORMAT_VERSION = 1
IGNORE = -100


@dataclass
class DatasetFolder:
    path: Path
    train: list[dict]
    validation: list[dict]
    manifest: dict

    @property
    def keep_newlines(self) -> bool:
        return bool(self.manifest.get("options", {}).get("keep_newlines", False))


def read_dataset(dataset_dir) -> DatasetFolder:
    """Read and check a dataset folder written by ``tweettwin prepare``."""
    from tweettwin.ingest.dataset import load_dataset_dir

    path = Path(dataset_dir)
    manifest, train, validation = load_dataset_dir(path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{path}: dataset format version {manifest.get('format_version')!r} is not supported "
            f"(this tweettwin trains on version {FORMAT_VERSION}); re-run `tweettwin prepare`"
        )
    train = [r for r in train if r["text"].strip()]
    validation = [r for r in validation if r["text"].strip()]
    if not validation:
        raise DatasetError(
            f"{path / 'validation.jsonl'} has no posts: re-run `tweettwin prepare` (it holds out "
            f"validation posts)"
        )
    return DatasetFolder(path, train, validation, manifest)


def author_prefix(handle: str | None) -> str:
    return f"@{handle}: " if handle else ""


def post_texts(records: list[dict], author_tags: bool) -> list[str]:
    if not author_tags:
        return [r["text"] for r in records]
    return [author_prefix(r.get("author")) + r["text"] for r in records]


def balance_authors(records: list[dict], seed: int) -> list[dict]:
    """Upsample every author to the post count of the largest one (whole copies + a random rest)."""
    by_author: dict[str, list[dict]] = {}
    for r in records:
        by_author.setdefault(r.get("author") or "", []).append(r)
    if len(by_author) < 2:
        return list(records)
    target = max(len(v) for v in by_author.values())
    rng = random.Random(seed)
    out: list[dict] = []
    for handle in sorted(by_author):
        posts = by_author[handle]
        copies, rest = divmod(target, len(posts))
        out.extend(posts * copies + rng.sample(posts, rest))
    return out


def encode(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


class PackedBlocks:
    """Each epoch: shuffle posts (seeded) and pack them into fixed blocks that each start with
    ``S`` and a post's first token: ``S p1 S p2 S ...``.

    Why aligned: a model samples (and is scored) from a lone ``S`` at position 0. Cut at arbitrary
    stream offsets, position 0 of a block holds a mid-post token, so what the model learned there
    is a continuation, not a post start: after a lone ``S`` it put 37% of its mass on
    space-prefixed tokens, which start no post (a measurement on andreruffert's archive). A post
    that does not fit is cut at the block's end (its tail is skipped that epoch); when the posts
    run out, a second shuffle fills the last blocks, so every epoch has the same token count.
    """

    def __init__(self, posts: list[list[int]], sep_id: int, block_size: int, seed: int):
        self.posts, self.sep_id, self.seed = [p for p in posts if p], sep_id, seed
        total = sum(len(p) + 1 for p in self.posts) + 1
        self.block_size = block_size
        self.num_blocks = total // block_size
        if self.num_blocks < 1 or block_size < 2:
            raise DatasetError(
                f"the training posts hold only {total} tokens, less than one {block_size}-token "
                f"block; "
                "add more posts or lower --block-size"
            )
        self.tokens_per_epoch = self.num_blocks * block_size

    def _order(self, epoch: int, lap: int) -> list[int]:
        order = list(range(len(self.posts)))
        random.Random((self.seed * 1_000_003 + epoch) * 7919 + lap).shuffle(order)
        return order

    def epoch(self, epoch: int) -> torch.Tensor:
        size, sep = self.block_size, self.sep_id
        blocks = torch.empty((self.num_blocks, size), dtype=torch.long)
        row, col, lap = 0, 0, 0
        while row < self.num_blocks:
            for i in self._order(epoch, lap):
                if col == 0:
                    blocks[row, 0], col = sep, 1
                piece = self.posts[i] + [sep]
                take = min(len(piece), size - col)
                blocks[row, col : col + take] = torch.tensor(piece[:take])
                col += take
                if col == size:
                    row, col = row + 1, 0
                    if row == self.num_blocks:
                        break
            lap += 1
        return blocks


def eval_batches(
    posts: list[list[int]],
    sep_id: int,
    max_tokens: int = 4096,
    max_len: int = 512,
    spread: float = 0.15,
):
    """Validation posts as ``S text S`` (loss on text and the closing S), padded in length-sorted
    batches of at most ``max_tokens`` tokens (a longer post alone): a list of (input_ids,
    attention_mask, labels). Training and ``tweettwin eval`` share them.

    A batch's longest post is at most ``spread`` longer than its shortest (+2 tokens), so few
    positions are padding: bounded by size alone, batches mixed posts of 3 and 54 tokens and
    42-49% of the positions were padding (a held-out pass took 13.8 s instead of 7.9 s on
    alrocar's validation posts with kernels limited to AVX2)."""
    items = sorted(([sep_id] + p[: max_len - 2] + [sep_id] for p in posts), key=len)
    batches, start = [], 0
    while start < len(items):
        width = len(items[start])
        widest = int(width * (1 + spread)) + 2
        end = start
        while (
            end < len(items)
            and len(items[end]) * (end - start + 1) <= max(max_tokens, width)
            and len(items[end]) <= widest
        ):
            end += 1
        chunk = items[start:end]
        width = len(chunk[-1])
        ids = torch.full((len(chunk), width), sep_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, seq in enumerate(chunk):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        labels = ids.masked_fill(mask == 0, IGNORE)
        labels[:, 0] = IGNORE  # the opening separator is context, not a prediction
        batches.append((ids, mask, labels))
        start = end
    return batches


def post_token_stats(posts: list[list[int]]) -> dict:
    lengths = sorted(len(p) for p in posts) or [0]
    return {
        "posts": len(posts),
        "tokens": sum(lengths),
        "mean_tokens": round(sum(lengths) / max(1, len(posts)), 1),
        "p95_tokens": lengths[int(0.95 * (len(lengths) - 1))],
        "max_tokens": lengths[-1],
    }
