"""Dataset folder: the split, its stability, hashes, and loading for training."""

from __future__ import annotations

import json

import pytest

from tweettwin.errors import DatasetError
from tweettwin.ingest.dataset import (
    FORMAT,
    SplitWriter,
    content_hash,
    effective_fraction,
    load_dataset_dir,
    split_key,
    write_manifest,
)


def write_split(folder, posts, method="hash", fraction=0.1, min_validation=32):
    """posts: (id, created_at) pairs; returns (train ids, validation ids, SplitResult)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = SplitWriter(folder / "spool.jsonl", method)
    for post_id, created in posts:
        writer.add(f"text of post {post_id}", post_id, "me", created, "test")
    result = writer.finish(folder, fraction, min_validation)
    (folder / "spool.jsonl").unlink()
    ids = [
        [json.loads(line)["id"] for line in (folder / name).read_text().splitlines()]
        for name in ("train.jsonl", "validation.jsonl")
    ]
    return ids[0], ids[1], result


def ids(n, start=0):
    return [(str(i), f"2020-01-01T00:00:{i % 60:02d}Z") for i in range(start, n)]


def test_split_key_depends_only_on_author_and_id():
    assert split_key("me", "1") == split_key("me", "1")
    assert split_key("me", "1") != split_key("you", "1")
    assert 0 <= split_key("me", "1") < 2**64


def test_fraction_rises_in_nested_steps_for_small_datasets():
    assert effective_fraction(5000) == 0.1
    assert effective_fraction(320) == 0.1
    assert effective_fraction(300) == 0.15
    assert effective_fraction(100) == 0.35
    assert effective_fraction(10) == 0.5
    sizes = range(1, 400)
    fractions = [effective_fraction(n) for n in sizes]
    assert fractions == sorted(fractions, reverse=True)  # only ever shrinks as data grows


def test_hash_split_is_about_ten_percent_and_keeps_input_order(tmp_path):
    train, val, result = write_split(tmp_path / "d", ids(2000))
    assert 150 <= len(val) <= 250 and len(train) + len(val) == 2000
    assert train == sorted(train, key=int) and val == sorted(val, key=int)
    assert result.per_author["me"] == (len(train), len(val))
    assert result.train.posts == len(train)


def test_small_dataset_still_gets_a_few_dozen_validation_posts(tmp_path):
    _, val, result = write_split(tmp_path / "d", ids(120))
    assert result.fraction > 0.1
    assert len(val) >= 24


def test_hash_split_is_stable_when_posts_are_added(tmp_path):
    old_train, old_val, _ = write_split(tmp_path / "a", ids(1000))
    new_train, new_val, _ = write_split(tmp_path / "b", ids(1500))  # 500 newer posts
    assert set(old_train) <= set(new_train)
    assert set(old_val) <= set(new_val)
    # also for a dataset that passed a fraction step: validation posts may join train, never back
    small_train, small_val, _ = write_split(tmp_path / "c", ids(150))
    assert set(small_train) <= set(new_train)


def test_time_split_holds_out_the_newest(tmp_path):
    posts = [(str(i), f"2020-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z") for i in range(400)]
    posts.reverse()  # input order newest first, as in archives
    train, val, result = write_split(tmp_path / "d", posts, method="time")
    assert len(val) == 40
    assert {int(i) for i in val} == set(range(360, 400))


def test_time_split_ties_are_broken_by_input_order(tmp_path):
    posts = [(str(i), "2020-01-01T00:00:00Z") for i in range(400)]
    train, val, _ = write_split(tmp_path / "d", posts, method="time")
    assert val == [str(i) for i in range(360, 400)]


def test_time_split_needs_dates(tmp_path):
    writer = SplitWriter(tmp_path / "spool", "time")
    with pytest.raises(DatasetError, match="--split hash"):
        writer.add("words", "7", "me", None, "test")
    writer.close()


def test_content_hash_covers_both_files_and_same_input_gives_same_bytes(tmp_path):
    _, _, a = write_split(tmp_path / "a", ids(500))
    _, _, b = write_split(tmp_path / "b", ids(500))
    assert a.content_hash == b.content_hash == content_hash(tmp_path / "a")
    for name in ("train.jsonl", "validation.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# --- loading ----------------------------------------------------------------------------------


def make_dataset(folder, n=200, **manifest):
    _, _, result = write_split(folder, ids(n))
    write_manifest(
        folder,
        {"format": FORMAT, "format_version": 1, "content_hash": result.content_hash, **manifest},
    )
    return folder


def test_load_round_trip(tmp_path):
    folder = make_dataset(tmp_path / "d")
    manifest, train, validation = load_dataset_dir(folder)
    assert manifest["format"] == FORMAT
    assert len(train) + len(validation) == 200
    assert set(train[0]) == {"text", "id", "author", "created_at", "source"}


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", "no dataset at"),
        ("no-manifest", "no manifest.json"),
        ("wrong-format", "not a tweettwin dataset manifest"),
        ("newer-version", "newer than this tweettwin reads"),
        ("bad-json-line", "line 2, column"),
        ("no-text", "line 1: each line must be an object"),
        ("empty-train", "has no posts"),
        ("missing-validation", "validation.jsonl is missing"),
        ("edited", "content hash mismatch"),
    ],
)
def test_load_errors_are_one_clear_line(tmp_path, breakage, message):
    folder = make_dataset(tmp_path / "d")
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    train = folder / "train.jsonl"
    if breakage == "missing":
        folder = tmp_path / "nothing-here"
    elif breakage == "no-manifest":
        manifest_path.unlink()
    elif breakage == "wrong-format":
        manifest_path.write_text(json.dumps({**manifest, "format": "something-else"}))
    elif breakage == "newer-version":
        manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    elif breakage == "bad-json-line":
        lines = train.read_text().splitlines()
        train.write_text(lines[0] + "\n{oops\n")
    elif breakage == "no-text":
        train.write_text('{"id": "1"}\n')
    elif breakage == "empty-train":
        train.write_text("")
    elif breakage == "missing-validation":
        (folder / "validation.jsonl").unlink()
    elif breakage == "edited":
        train.write_text(train.read_text().replace("text of post", "changed post"))
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset_dir(folder)
    assert "\n" not in str(info.value)


def test_lines_are_plain_json_dumps_of_the_record(tmp_path):
    tricky = 'quote " backslash \\ tab \t newline \n control \x01 café 🌞 \u2028'
    writer = SplitWriter(tmp_path / "spool", "hash")
    writer.add(tricky, "7", 'a"b', None, "x-archive")
    writer.close()
    line = (tmp_path / "spool").read_text(encoding="utf-8")
    record = {"text": tricky, "id": "7", "author": 'a"b', "created_at": None, "source": "x-archive"}
    assert line == json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
