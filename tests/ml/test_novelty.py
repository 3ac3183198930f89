"""The novelty guard: hashed n-grams in the model folder, copies flagged, novel text passes."""

from __future__ import annotations

import json

import pytest

from tweettwin.errors import ModelError
from tweettwin.ml.novelty import NoveltyIndex, write_index

POSTS = [
    "Proofed the sourdough overnight and the crumb came out open and glossy this morning.",
    "Climbed the Hollow Ridge road before sunrise, legs empty but the view was worth it.",
    "Cinnamon buns sold out by nine!",
    "🥐🥐🥐",
]


@pytest.fixture
def index(tmp_path):
    write_index(tmp_path, POSTS)
    return NoveltyIndex.load(tmp_path)


def test_index_holds_hashes_not_posts(tmp_path):
    meta_path = write_index(tmp_path, POSTS)
    meta = json.loads(meta_path.read_text())
    assert meta["n"] == 8 and meta["posts"] == 4 and meta["count"] > 4
    blob = (tmp_path / meta["file"]).read_bytes()
    assert len(blob) == 8 * meta["count"]
    for _ in POSTS:
        for word in ("sourdough", "Hollow", "Cinnamon"):
            assert word.encode() not in blob and word.encode() not in meta_path.read_bytes()


def test_index_is_deterministic(tmp_path):
    write_index(tmp_path / "a", POSTS)
    write_index(tmp_path / "b", reversed(POSTS))
    assert (tmp_path / "a" / "novelty.bin").read_bytes() == (
        tmp_path / "b" / "novelty.bin"
    ).read_bytes()


def test_verbatim_copy_is_flagged(index):
    assert all(index.is_copy(p) for p in POSTS)
    # case, punctuation and spacing do not hide a copy
    assert index.is_copy("cinnamon buns   SOLD OUT by nine")


def test_near_copy_sharing_a_long_run_is_flagged(index):
    assert index.is_copy(
        "Honestly I climbed the Hollow Ridge road before sunrise, legs empty again today"
    )


def test_novel_text_passes(index):
    assert not index.is_copy("Sourdough crumb was open this morning and the ridge view was great.")
    assert not index.is_copy("Cinnamon buns sold out by ten!")  # short: only the whole post counts
    assert not index.is_copy("Cinnamon buns")
    assert not index.is_copy("🥐")


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no novelty index"):
        NoveltyIndex.load(tmp_path)
