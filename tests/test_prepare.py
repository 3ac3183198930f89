"""`prepare` end to end: the Python API, the CLI, and invariants on the real archives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tweettwin.cli import cli
from tweettwin.errors import DatasetError, OutputExistsError
from tweettwin.ingest.dataset import load_dataset_dir
from tweettwin.ingest.options import PrepareOptions
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.prepare import prepare
from tweettwin.ingest.sources import SourceData

from . import archive_fixtures as fx

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
URL = re.compile(r"https?://|\bt\.co/", re.IGNORECASE)
JSON_KEYS = {
    "handle", "name", "downloaded", "retweets", "replies", "short", "duplicates",
    "excluded_private", "kept", "train", "validation",
}  # fmt: skip
WORDS = "river stone lamp quiet orange market window winter garden coffee letter music".split()


def make_posts(n: int, author: str = "me", start: int = 0) -> list[Post]:
    """n distinct original posts, with a retweet, a reply and a short one every few posts."""
    posts = []
    for i in range(start, start + n):
        words = " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 8))
        text, flags = f"Post {i} about the {words} &amp; more https://t.co/l{i}", {}
        if i % 10 == 3:
            text = f"RT @pal: {words}"
        elif i % 10 == 5:
            text, flags = f"@pal {words} {i}", {"is_reply": True}
        elif i % 10 == 7:
            text = f"ok {i}"
        created = f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
        posts.append(Post(str(1000 + i), text, author, created, "test", **flags))
    return posts


def source(posts: list[Post], handle: str = "me", files=()) -> SourceData:
    return SourceData(
        f"{handle}.zip", "test", list(files), iter(posts), {handle: Author(handle, handle.title())}
    )


def assert_invariants(result_json: dict) -> None:
    for a in result_json["authors"]:
        assert a["kept"] + sum(a["dropped"].values()) == a["downloaded"], a
        assert a["train"] + a["validation"] == a["kept"], a


# --- Python API ---------------------------------------------------------------------------------


def test_prepare_writes_a_dataset_with_manifest_and_stats(tmp_path):
    inp = tmp_path / "me.zip"
    inp.write_bytes(b"stand-in input file")
    result = prepare([source(make_posts(300), files=[inp])], tmp_path / "out")
    manifest, train, validation = load_dataset_dir(tmp_path / "out")
    assert manifest["format_version"] == 1 and manifest["tool_version"]
    assert manifest["content_hash"].startswith("sha256:")
    assert manifest["inputs"] == [
        {"path": "me.zip", "sha256": manifest["inputs"][0]["sha256"], "bytes": 19}
    ]
    assert manifest["options"]["keep_newlines"] is False
    (author,) = manifest["authors"]
    assert author["handle"] == "me" and author["name"] == "Me"
    assert author["downloaded"] == 300 and author["retweets"] == 30 and author["replies"] == 30
    assert author["short"] == 30 and author["kept"] == len(train) + len(validation) == 240
    assert_invariants(result.to_json())
    assert all(not URL.search(r["text"]) and "&amp;" not in r["text"] for r in train)
    assert {r["author"] for r in train} == {"me"}


def test_same_inputs_give_byte_identical_output(tmp_path):
    prepare([source(make_posts(300))], tmp_path / "a")
    prepare([source(make_posts(300))], tmp_path / "b")
    for name in ("train.jsonl", "validation.jsonl", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # re-running on the same output replaces the dataset (it is derived data)
    again = prepare([source(make_posts(320))], tmp_path / "a")
    assert again.manifest["authors"][0]["downloaded"] == 320


def test_adding_posts_does_not_move_old_ones_between_splits(tmp_path):
    def split(result_dir):
        _, train, validation = load_dataset_dir(result_dir)
        return {r["id"] for r in train}, {r["id"] for r in validation}

    prepare([source(make_posts(600))], tmp_path / "old")
    prepare([source(make_posts(900))], tmp_path / "new")
    old_train, old_val = split(tmp_path / "old")
    new_train, new_val = split(tmp_path / "new")
    assert old_train <= new_train and old_val <= new_val


def test_time_split_holds_out_the_newest(tmp_path):
    prepare([source(make_posts(600))], tmp_path / "out", PrepareOptions(split="time"))
    _, train, validation = load_dataset_dir(tmp_path / "out")
    assert min(r["created_at"] for r in validation) >= max(r["created_at"] for r in train)


def test_default_output_for_several_authors_and_per_author_stats(tmp_path):
    result = prepare(
        [source(make_posts(200, "ann"), "ann"), source(make_posts(200, "bob", 7), "bob")]
    )
    assert result.output == Path(tmp_path / "workspace" / "ann+bob" / "data")
    assert [a["handle"] for a in result.to_json()["authors"]] == ["ann", "bob"]
    _, train, _ = load_dataset_dir(result.output)
    assert {r["author"] for r in train} == {"ann", "bob"}
    assert_invariants(result.to_json())


def test_too_little_text_is_an_error_that_says_why(tmp_path):
    posts = make_posts(40)
    with pytest.raises(DatasetError) as info:
        prepare([source(posts)], tmp_path / "out")
    message = str(info.value)
    assert "characters in" in message and "retweets 4" in message and "6,000" in message
    assert not (tmp_path / "out").exists()
    result = prepare([source(make_posts(200))], tmp_path / "out")
    assert result.warnings and "40,000" in result.warnings[0]


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(OutputExistsError):
        prepare([source(make_posts(300))], precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_private_posts_never_reach_the_files(tmp_path):
    posts = make_posts(300)
    posts.append(Post("9", "secret words for my followers only", "me", private=True))
    result = prepare([source(posts)], tmp_path / "out")
    assert result.manifest["authors"][0]["excluded_private"] == 1
    data = (tmp_path / "out" / "train.jsonl").read_text() + (
        tmp_path / "out" / "validation.jsonl"
    ).read_text()
    assert "secret words" not in data


def test_dataset_loads_with_hf_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    prepare([source(make_posts(300))], tmp_path / "out")
    files = {s: str(tmp_path / "out" / f"{s}.jsonl") for s in ("train", "validation")}
    ds = datasets.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "hf"))
    assert ds["train"].num_rows + ds["validation"].num_rows == 240
    assert {"text", "id", "author", "created_at", "source"} <= set(ds["train"].column_names)


# --- CLI ----------------------------------------------------------------------------------------


def many_tweets(n: int) -> list[dict]:
    tweets = [
        fx.x_tweet(str(2000 + i), f"Tweet {i}: " + " ".join(WORDS[(i + k) % 12] for k in range(9)))
        for i in range(n)
    ]
    return fx.default_x_tweets() + tweets


def invoke(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_cli_json_shape_and_table_on_stderr(tmp_path):
    archive = fx.write_x_archive(tmp_path / "in", tweets=many_tweets(150))
    res = invoke("prepare", archive, "-o", tmp_path / "out", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["output"] == str(tmp_path / "out")
    (author,) = out["authors"]
    assert JSON_KEYS <= set(author)
    assert author["handle"] == fx.X_HANDLE and author["name"] == fx.X_NAME
    assert author["downloaded"] == 158 and author["retweets"] == 1
    assert_invariants(out)
    assert "downloaded" in res.stderr and f"@{fx.X_HANDLE}" in res.stderr
    assert fx.FORBIDDEN_MARKER not in (tmp_path / "out" / "train.jsonl").read_text()


def test_cli_options_reach_the_rules(tmp_path):
    archive = fx.write_x_archive(tmp_path / "in", tweets=many_tweets(150))
    res = invoke(
        "prepare", archive, "-o", tmp_path / "out", "--json", "--drop-replies", "--split", "time"
    )
    assert res.exit_code == 0, res.output
    (author,) = json.loads(res.stdout)["authors"]
    assert author["replies"] == 2 and author["dropped"]["replies"] == 2
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["options"]["drop_replies"] is True and manifest["split"]["method"] == "time"


def test_cli_mastodon_and_x_make_one_multi_author_dataset(tmp_path):
    archive = fx.write_x_archive(tmp_path / "in", tweets=many_tweets(150))
    masto = fx.write_mastodon_export(tmp_path / "in")
    res = invoke("prepare", archive, masto, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    handles = [a["handle"] for a in out["authors"]]
    assert set(handles) == {fx.X_HANDLE, fx.MASTO_USER}
    assert out["output"].endswith("+".join(handles) + "/data")
    masto_stats = next(a for a in out["authors"] if a["handle"] == fx.MASTO_USER)
    assert masto_stats["excluded_private"] == 2 and masto_stats["retweets"] == 1
    assert_invariants(out)


@pytest.mark.parametrize("kind", fx.BAD_INPUTS)
def test_cli_bad_input_is_one_line_exit_2_nothing_written(tmp_path, kind):
    bad = fx.write_bad_input(tmp_path / "in", kind)
    res = invoke("prepare", bad, "-o", tmp_path / "out")
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_cli_too_little_text_exit_2(tmp_path):
    archive = fx.write_x_archive(tmp_path / "in")  # 8 posts
    res = invoke("prepare", archive, "-o", tmp_path / "out")
    assert res.exit_code == 2 and "characters" in res.stderr and "Traceback" not in res.output


# --- real archives (skipped when ../shared/data is absent) ---------------------------------------

REAL = [
    "x-archive/andreruffert.zip",
    "x-archive/alrocar",
    "mastodon/dealingwith",
    "large/trump-tta-2009-2017",
    "large/trump-tta-2019-2020",
]


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data")
def test_real_archives_keep_the_invariants(tmp_path):
    from tweettwin.ingest.sources import open_source

    specs = [SHARED / p for p in REAL if (SHARED / p).exists()]
    result = prepare(specs, tmp_path / "out")
    out = result.to_json()
    assert_invariants(out)
    assert all(a["kept"] > 0 for a in out["authors"])
    manifest, train, validation = load_dataset_dir(tmp_path / "out")
    for record in train + validation:
        assert not URL.search(record["text"]), record["id"]
        assert not record["text"].startswith("RT @"), record["id"]
        assert "&amp;" not in record["text"] and "\n" not in record["text"]

    # add the newer half of a real archive later: old posts keep their side of the split
    posts = sorted(open_source(str(SHARED / REAL[0])).posts, key=lambda p: int(p.id))
    old = prepare([source(posts[: len(posts) // 2], "a")], tmp_path / "old")
    new = prepare([source(posts, "a")], tmp_path / "new")
    (_, old_train, old_val), (_, new_train, new_val) = (
        load_dataset_dir(r.output) for r in (old, new)
    )
    assert {r["id"] for r in old_train} <= {r["id"] for r in new_train}
    assert {r["id"] for r in old_val} <= {r["id"] for r in new_val}
