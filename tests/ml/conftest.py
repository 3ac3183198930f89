"""ML test fixtures: a tiny Llama-architecture causal LM (same family as SmolLM2) built offline
from a config, with a byte-level BPE tokenizer trained on synthetic posts. Nothing is downloaded."""

from __future__ import annotations

import json
import random

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SEPARATOR = "<|endoftext|>"

_WORDS = (
    "coffee morning garden rain bike code bug deploy friday weekend sunset tea book train city "
    "music walk river cat dog bread mountain cloud window light night dream idea work home"
).split()


def synthetic_posts(n: int = 240, seed: int = 0, author: str = "tiny") -> list[dict]:
    """Short, varied, post-like texts (records shaped like a dataset's jsonl lines)."""
    rng = random.Random(seed)
    openers = [
        "Today",
        "My dream is",
        "Honestly",
        "Just",
        "Remember when",
        "Nothing beats",
        "Why is",
    ]
    posts = []
    for i in range(n):
        words = rng.sample(_WORDS, rng.randint(4, 12))
        text = f"{rng.choice(openers)} {' '.join(words)}" + rng.choice([".", "!", "?", " 🌧️", " ☕"])
        day = 1 + i % 28
        posts.append(
            {
                "text": text,
                "id": str(1000 + i),
                "author": author,
                "created_at": f"2024-01-{day:02d}T12:00:00Z",
                "source": "test",
            }
        )
    return posts


def build_tiny_model(path, seed: int = 0, vocab_size: int = 512):
    """Save a tiny LlamaForCausalLM + fast tokenizer to ``path`` and return the path."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[SEPARATOR, "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([p["text"] for p in synthetic_posts(400, seed)], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=SEPARATOR, eos_token=SEPARATOR, unk_token=SEPARATOR
    )
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def write_dataset(path, posts: list[dict], validation_every: int = 10) -> None:
    """Write a dataset folder in the prepare stage's format (train/validation jsonl + manifest)."""
    import hashlib

    path.mkdir(parents=True, exist_ok=True)
    train = [p for i, p in enumerate(posts) if i % validation_every]
    val = [p for i, p in enumerate(posts) if not i % validation_every]
    blobs = {}
    for name, rows in (("train", train), ("validation", val)):
        blob = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (path / f"{name}.jsonl").write_text(blob, encoding="utf-8")
        blobs[name] = blob
    authors = sorted({p["author"] for p in posts})
    manifest = {
        "format": "tweettwin-dataset",
        "format_version": 1,
        "tool_version": "test",
        "content_hash": "sha256:"
        + hashlib.sha256((blobs["train"] + blobs["validation"]).encode()).hexdigest(),
        "inputs": [],
        "options": {"keep_newlines": False},
        "authors": [
            {
                "handle": a,
                "name": a.title(),
                "avatar": None,
                "downloaded": sum(p["author"] == a for p in posts),
                "retweets": 0,
                "replies": 0,
                "short": 0,
                "duplicates": 0,
                "excluded_private": 0,
                "kept": sum(p["author"] == a for p in posts),
                "train": sum(p["author"] == a for p in train),
                "validation": sum(p["author"] == a for p in val),
            }
            for a in authors
        ],
    }
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def tiny_train_config(model_dir, **overrides):
    """A TrainConfig sized for the tiny model: short blocks, a high rate, fp32 weights saved."""
    from tweettwin.train_config import TrainConfig

    base = dict(
        base_model=str(model_dir),
        epochs=1.0,  # explicit: the tiny datasets are far under the small-archive token floor
        block_size=64,
        batch_size=2,
        learning_rate=3e-3,
        save_dtype="float32",
        checkpoint_minutes=60,
    )
    return TrainConfig(**{**base, **overrides})


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def tiny_dataset_dir(tmp_path):
    path = tmp_path / "dataset"
    write_dataset(path, synthetic_posts())
    return path


def train_tiny(base, tmp, posts, out, **kw):
    """Train the tiny model on ``posts`` with `tweettwin train`'s code; the model folder."""
    from tweettwin.ml.train import train

    write_dataset(tmp / f"{out}-data", posts)
    train(tmp / f"{out}-data", tmp / out, tiny_train_config(base, **kw))
    return tmp / out


@pytest.fixture(scope="session")
def twin_dir(tiny_model_dir, tmp_path_factory):
    """A tiny model folder written by `tweettwin train`, as users get it."""
    return train_tiny(
        tiny_model_dir, tmp_path_factory.mktemp("twin"), synthetic_posts(), "model", epochs=2
    )
