"""Hostile and careless inputs to every reader: one Error line or a correct dataset, never a
traceback, a hang, a file read from outside the SOURCE, or junk trained on."""

from __future__ import annotations

import io
import json
import os
import random
import re
import time
import zipfile
from datetime import datetime

import pytest

from tests.hostile import assert_error, dataset_texts, posts, run, sentence, write_jsonl
from tweettwin.errors import TweettwinError
from tweettwin.ingest.options import PrepareOptions
from tweettwin.ingest.prepare import prepare
from tweettwin.ingest.sources.files import parse_date, twitter_date_iso

DEEP = 100_000  # far past Python's recursion limit


def _tweets_js(entries: list[dict], pad: str = "") -> str:
    body = (",\n" + pad).join(json.dumps({"tweet": t}) for t in entries)
    return f"window.YTD.tweets.part0 = [{pad}{body}{pad}]"


def _tweet(i: int, text: str, created: str = "Wed Mar 18 21:48:42 +0000 2020") -> dict:
    return {"id_str": str(1000 + i), "full_text": text, "created_at": created}


def _x_archive(folder, entries, pad: str = ""):
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "tweets.js").write_text(_tweets_js(entries, pad), encoding="utf-8")
    return folder


def _x_entries(n: int = 300, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    return [_tweet(i, sentence(rng)) for i in range(n)]


# --- symlinks and special files ----------------------------------------------------------------


def test_symlink_out_of_a_folder_source_is_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash super secret line here\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "more.txt").write_text("another secret line from outside the folder\n")
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "posts.jsonl", posts())
    (src / "p.txt").symlink_to(secret)
    (src / "dir").symlink_to(outside, target_is_directory=True)
    (src / "inner.txt").symlink_to(src / "posts.jsonl")  # inside: harmless, but a .txt
    result = run("prepare", src, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    texts = "\n".join(dataset_texts(tmp_path / "out"))
    assert "root:x" not in texts and "secret" not in texts


def test_symlinked_x_archive_metadata_out_of_the_folder_is_ignored(tmp_path):
    arch = _x_archive(tmp_path / "arch", _x_entries())
    evil = tmp_path / "evil.js"
    evil.write_text('window.YTD.account.part0 = [{"account": {"username": "stolen"}}]')
    (arch / "data" / "account.js").symlink_to(evil)
    result = run("prepare", arch / "data" / "tweets.js", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [a["handle"] for a in manifest["authors"]] != ["stolen"]


def test_fifo_source_is_refused_and_a_fifo_in_a_folder_is_skipped(tmp_path):
    fifo = tmp_path / "posts.csv"
    os.mkfifo(fifo)
    assert_error(run("prepare", fifo), "not a regular file")
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "posts.jsonl", posts())
    os.mkfifo(src / "blocked.txt")
    result = run("prepare", src, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_source_name_too_long_for_the_file_system(tmp_path):
    assert_error(run("prepare", tmp_path / ("a" * 300 + ".csv")), "no such file")


# --- deeply nested JSON -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, body",
    [
        ("array.json", "[" * DEEP),
        ("array-elem.json", '[{"text": "ok post here"}, ' + "[" * DEEP + "]"),
        ("object.json", '{"tweets": ' + "[" * DEEP + "}"),
        ("lines.jsonl", '{"text": ' + "[" * DEEP + "}\n"),
        ("outbox.json", '{"orderedItems": ' + "[" * DEEP + "}"),
    ],
)
def test_deeply_nested_json_is_one_line(tmp_path, name, body):
    (tmp_path / name).write_text(body)
    assert_error(run("prepare", tmp_path / name), name, "nested too deeply")


def test_deeply_nested_tweets_js_is_one_line(tmp_path):
    arch = tmp_path / "arch"
    (arch / "data").mkdir(parents=True)
    deep = '{"tweet": {"id_str": "1", "full_text": "x", "entities": ' + "[" * DEEP + "}}"
    (arch / "data" / "tweets.js").write_text(f"window.YTD.tweets.part0 = [{deep}]")
    assert_error(run("prepare", arch), "tweets.js", "nested too deeply")


# --- dates ------------------------------------------------------------------------------------

_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-23:59",
        "Fri Dec 31 23:59:59 -0100 9999",
        "Mon Jan 01 00:00:00 +0100 0001",
        "Wed Feb 30 21:48:42 +0000 2020",
        "Wed Mar 18 25:61:99 +0000 2020",
        "2020-02-30T00:00:00Z",
        "1e400",
        "nan",
        str(10**30),
        "-1",
        float("nan"),
        float("inf"),
        10**30,
        [],
        {},
    ],
)
def test_dates_at_the_edges_are_valid_or_none(value):
    got = parse_date(value)
    assert got is None or (_ISO.match(got) and datetime.fromisoformat(got[:-1]))
    if isinstance(value, str):
        got = twitter_date_iso(value)
        assert got is None or (_ISO.match(got) and datetime.fromisoformat(got[:-1]))


def test_generated_dates_never_raise_and_are_always_real():
    rng = random.Random(7)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec Foo".split()
    for _ in range(3000):
        y, mo, d = rng.randint(0, 10000), rng.randint(0, 13), rng.randint(0, 32)
        h, mi, s = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
        off = rng.choice(["Z", "+00:00", "-01:00", "+14:00", "+23:59", ""])
        for value in (
            f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{off}",
            f"Wed {rng.choice(months)} {d:02d} {h:02d}:{mi:02d}:{s:02d} +0000 {y:04d}",
        ):
            got = twitter_date_iso(value)
            assert got is None or (_ISO.match(got) and datetime.fromisoformat(got[:-1])), value


def test_impossible_dates_in_an_x_archive_are_not_written(tmp_path):
    entries = _x_entries()
    entries[0]["created_at"] = "Wed Feb 30 21:48:42 +0000 2020"
    entries[1]["created_at"] = "Fri Dec 31 23:59:59 +0000 9999"  # real; +2 s overflows
    entries[1]["full_text"] += " …"
    arch = _x_archive(tmp_path / "arch", entries)
    result = run("prepare", arch, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    dates = {
        json.loads(line)["created_at"]
        for name in ("train.jsonl", "validation.jsonl")
        for line in (tmp_path / "out" / name).read_text().splitlines()
    }
    assert "2020-02-30T21:48:42Z" not in dates and None in dates


# --- CSV, field types, text content -----------------------------------------------------------


def test_unterminated_csv_quote_is_an_error_not_one_merged_post(tmp_path):
    rows = [f"{i},{sentence(random.Random(i))}" for i in range(300)]
    rows.insert(10, '999,"an opening quote that never closes')
    (tmp_path / "p.csv").write_text("id,text\n" + "\n".join(rows) + "\n")
    assert_error(run("prepare", tmp_path / "p.csv"), "p.csv", "line 12", "never closed")


@pytest.mark.parametrize("value", [["a", "b"], {"text": "nested"}, [[1]]])
def test_list_or_dict_text_is_refused_with_where(tmp_path, value):
    rows = posts()
    rows[5]["text"] = value
    write_jsonl(tmp_path / "p.jsonl", rows)
    assert_error(run("prepare", tmp_path / "p.jsonl"), "p.jsonl: line 6", "'text'")
    (tmp_path / "p.json").write_text(json.dumps(rows))
    assert_error(run("prepare", tmp_path / "p.json"), "p.json: entry 5", "'text'")


def test_list_author_or_lang_is_not_trained_as_a_repr(tmp_path):
    rows = posts()
    for row in rows[:50]:
        row["author"] = ["x", "y"]
        row["lang"] = {"en": 1}
    write_jsonl(tmp_path / "p.jsonl", rows)
    result = run("prepare", tmp_path / "p.jsonl", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [a["handle"] for a in manifest["authors"]] == ["p"]


def test_nul_bytes_terminal_escapes_and_lone_surrogates_are_stripped(tmp_path):
    rows = posts()
    nasty = "\x00\x1b[31m\x1b]0;pwned\x07\x9b\x1b[2J\ud800\x7f"
    for row in rows:
        row["text"] = nasty + row["text"] + "\x00&#27;[0m"
    rows[0]["author"] = "ev\x1b[31mil\x00"
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run("prepare", tmp_path / "p.jsonl", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    raw = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8")
    for bad in ("\\u0000", "\\u001b", "\\u009b", "\\u007f", "\\ud800", "\x1b", "\x00"):
        assert bad not in raw, bad
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "evil" in [a["handle"] for a in manifest["authors"]]


# --- size and time bounds ---------------------------------------------------------------------


def test_one_huge_post_is_refused_fast(tmp_path):
    rows = posts()
    rows[3]["text"] = "word " * 2_000_000  # 10 MB
    write_jsonl(tmp_path / "p.jsonl", rows)
    start = time.monotonic()
    assert_error(run("prepare", tmp_path / "p.jsonl"), "post '3'", "characters")
    assert time.monotonic() - start < 10


def test_a_json_value_bigger_than_any_post_is_refused(tmp_path):
    big = '[{"text": "' + "x" * (17 * 1024 * 1024) + '"}]'
    (tmp_path / "p.json").write_text(big)
    start = time.monotonic()
    assert_error(run("prepare", tmp_path / "p.json"), "larger than")
    assert time.monotonic() - start < 10


def test_a_line_without_end_is_refused_not_loaded(tmp_path):
    with open(tmp_path / "p.txt", "w") as fh:
        chunk = "x" * (1 << 20)
        for _ in range(70):
            fh.write(chunk)
    assert_error(run("prepare", tmp_path / "p.txt"), "line 1 is longer than")


def test_whitespace_between_entries_costs_linear_time(tmp_path):
    arch = _x_archive(tmp_path / "arch", _x_entries(), pad=" " * (64 << 10))  # 20 MB of blanks
    start = time.monotonic()
    result = run("prepare", arch, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - start < 20


def test_whitespace_zip_bomb_is_refused(tmp_path):
    data = io.BytesIO()
    blank = b" " * (1 << 20)
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("data/tweets.js", "w") as fh:
            fh.write(b"window.YTD.tweets.part0 = [")
            for _ in range(80):
                fh.write(blank)
            fh.write(b"]")
    (tmp_path / "bomb.zip").write_bytes(data.getvalue())
    assert len(data.getvalue()) < 1 << 20
    start = time.monotonic()
    assert_error(run("prepare", tmp_path / "bomb.zip"), "zip bomb")
    assert time.monotonic() - start < 10


# --- generated damage: every mutation is a dataset or one Error line --------------------------


def _mutations(data: bytes, rng: random.Random, n: int):
    for _ in range(n):
        b = bytearray(data)
        kind = rng.randrange(5)
        if kind == 0:
            del b[rng.randrange(len(b)) :]  # truncated
        elif kind == 1:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2:
            i = rng.randrange(len(b))
            b[i:i] = rng.choice([b"[" * 5000, b"\x00" * 10, b'"', b"\xff\xfe", b"{" * 3000])
        elif kind == 3:
            i = rng.randrange(len(b))
            b[i:i] = b" \n\t" * rng.randint(1, 50_000)
        else:
            i, j = sorted(rng.randrange(len(b)) for _ in range(2))
            b[i:j] = b""
        yield bytes(b)


def _outbox(n: int = 100) -> bytes:
    rng = random.Random(3)
    items = [
        {
            "type": "Create",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {
                "id": f"https://h/users/a/statuses/{i}",
                "content": f"<p>{sentence(rng)}</p>",
                "published": "2024-01-01T00:00:00Z",
            },
        }
        for i in range(n)
    ]
    return json.dumps({"type": "OrderedCollection", "orderedItems": items}).encode()


def _csv(n: int = 100) -> bytes:
    rng = random.Random(4)
    return ("id,text\n" + "".join(f'{i},"{sentence(rng)}"\n' for i in range(n))).encode()


@pytest.mark.parametrize(
    "name, make",
    [
        ("p.jsonl", lambda: b"".join(json.dumps(r).encode() + b"\n" for r in posts(100))),
        ("p.json", lambda: json.dumps(posts(100)).encode()),
        ("w.json", lambda: json.dumps({"tweets": posts(100)}).encode()),
        ("p.csv", _csv),
        ("outbox.json", _outbox),
        ("tweets.js", lambda: _tweets_js(_x_entries(100)).encode()),
    ],
)
def test_damaged_inputs_never_escape_the_error_tree(tmp_path, name, make):
    rng = random.Random(name)
    data = make()
    for i, blob in enumerate(_mutations(data, rng, 25)):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / name).write_bytes(blob)
        try:
            prepare([folder / name], folder / "out")
        except TweettwinError as ex:
            assert "\n" not in str(ex)


# --- folders tweettwin wrote, inside a folder SOURCE -------------------------------------------


def test_a_fetch_folder_inside_a_folder_source_is_not_read_as_a_table(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "posts.jsonl", posts())
    fetched = src / "raw" / "mastodon"
    fetched.mkdir(parents=True)
    (fetched / "manifest.json").write_text(json.dumps({"format": "tweettwin-fetch"}))
    secret = {"id": "1", "content": "SECRET followers only words here", "visibility": "private"}
    write_jsonl(fetched / "posts.jsonl", [secret] * 5)
    result = run("prepare", src, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "SECRET" not in "\n".join(dataset_texts(tmp_path / "out"))


def test_a_dataset_inside_a_folder_source_is_not_read_back(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "posts.jsonl", posts())
    assert run("prepare", src, "-o", src / "data").exit_code == 0
    first = json.loads((src / "data" / "manifest.json").read_text())["content_hash"]
    result = run("prepare", src, "-o", src / "data")
    assert result.exit_code == 0, result.output
    assert json.loads((src / "data" / "manifest.json").read_text())["content_hash"] == first
    assert_error(run("prepare", src / "data"), "is a tweettwin dataset already")


def test_a_symlink_loop_in_a_folder_source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "posts.jsonl", posts())
    (src / "loop.txt").symlink_to(src / "loop.txt")
    (src / "a.txt").symlink_to(src / "b.txt")
    (src / "b.txt").symlink_to(src / "a.txt")
    result = run("prepare", src, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_deep_json_in_a_dataset_line_is_one_line(tmp_path):
    from tweettwin.errors import DatasetError
    from tweettwin.ingest.dataset import iter_records

    (tmp_path / "train.jsonl").write_text("[" * DEEP + "\n")
    with pytest.raises(DatasetError, match="nested too deeply"):
        list(iter_records(tmp_path / "train.jsonl"))


@pytest.mark.parametrize(
    "column, values",
    [
        ("visibility", ["private", "direct", "limited", "Followers", "", None, 3]),
        ("is_private", [True, "true", "1", "yes"]),
        ("protected", [True, "TRUE"]),
    ],
)
def test_tabular_audience_columns_keep_private_posts_out(tmp_path, column, values):
    rows = posts(400)
    for i, row in enumerate(rows):
        if i % 2:
            row[column] = values[i % len(values)]
            row["text"] = "SECRET " + row["text"]
        elif column == "visibility":
            row[column] = ["public", "unlisted", "Public"][i % 3]
    write_jsonl(tmp_path / "p.jsonl", rows)
    result = run("prepare", tmp_path / "p.jsonl", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    texts = dataset_texts(tmp_path / "out")
    assert texts and not any("SECRET" in t for t in texts)


def test_csv_with_lone_cr_line_endings_is_read(tmp_path):
    rng = random.Random(5)
    rows = ["id,text"] + [f'{i},"{sentence(rng)}"' for i in range(300)]
    rows.insert(5, '999,"a quoted field\rthat spans a lone CR and more words"')
    (tmp_path / "mac.csv").write_bytes(("\r".join(rows) + "\r").encode())
    result = run("prepare", tmp_path / "mac.csv", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    texts = dataset_texts(tmp_path / "out")
    assert len(texts) > 250 and any("spans a lone CR" in t for t in texts)


def test_rows_with_ever_new_keys_keep_the_column_cache_bounded(tmp_path):
    from tweettwin.ingest.sources.columns import MAX_KEY_SETS, Rows
    from tweettwin.ingest.sources.files import read_tabular

    rows = posts(3000)
    for i, row in enumerate(rows):
        row[f"extra_{i}"] = i
    write_jsonl(tmp_path / "p.jsonl", rows)
    assert len(list(read_tabular(tmp_path / "p.jsonl").posts)) == 3000
    cache = Rows("p", {}, None)
    for i, row in enumerate(rows):
        cache.columns(tuple(row), f"line {i}")
    assert len(cache.cache) <= MAX_KEY_SETS


# --- generated field types: every field of every reader, every JSON type ------------------------

_ODD = [None, True, 0, -1, 1.5, "", "x", [], [1], ["a"], {}, {"a": 1}, [{}], [[]], {"url": 5}]


# Kept as they are in odd seeds, so that the readers get past the first check and the odd
# values reach the deeper code (entities, edits, notes, audience, authors).
_CORE = frozenset(("id_str", "full_text", "id", "text", "content", "object", "type", "tweet"))


def _swap_fields(obj, rng: random.Random, p: float = 0.08, keep=frozenset()):
    """``obj`` with some values (at any depth) replaced by a random odd JSON value."""
    if isinstance(obj, dict):
        return {
            k: rng.choice(_ODD)
            if k not in keep and rng.random() < p
            else _swap_fields(v, rng, p, keep)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_swap_fields(v, rng, p, keep) for v in obj]
    return obj


def _rich_tweet(i: int) -> dict:
    return {
        "id_str": str(1000 + i),
        "full_text": f"post {i} about bread https://t.co/x{i} and ovens …",
        "created_at": "Wed Mar 18 21:48:42 +0000 2020",
        "lang": "en",
        "in_reply_to_status_id_str": None,
        "entities": {"urls": [{"url": f"https://t.co/x{i}"}], "media": [{"url": "https://t.co/m"}]},
        "edit_info": {"initial": {"editTweetIds": [str(1000 + i), str(2000 + i)]}},
    }


def _note(i: int) -> dict:
    return {
        "noteTweet": {
            "createdAt": "2020-03-18T21:48:42.000Z",
            "core": {
                "text": f"post {i} about bread and ovens in full",
                "urls": [{"shortUrl": "u"}],
            },
            "noteTweetResults": {"text": "x"},
        }
    }


def _activity(i: int) -> dict:
    return {
        "type": "Create",
        "published": "2024-01-01T00:00:00Z",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [],
        "object": {
            "id": f"https://h/users/a/statuses/{i}",
            "content": f"<p>post {i} <a href='https://x.example'>link</a></p>",
            "contentMap": {"en": "<p>x</p>"},
            "inReplyTo": None,
            "published": "2024-01-01T00:00:00Z",
        },
    }


@pytest.mark.parametrize("seed", range(40))
def test_odd_field_types_in_x_archives_and_outboxes_never_escape_the_error_tree(tmp_path, seed):
    rng = random.Random(seed)
    keep = _CORE if seed % 2 else frozenset()

    def swap(obj):
        return _swap_fields(obj, rng, 0.3 if seed % 2 else 0.08, keep)

    arch = tmp_path / "x"
    (arch / "data").mkdir(parents=True)
    tweets = [{"tweet": swap(_rich_tweet(i))} for i in range(40)]
    (arch / "data" / "tweets.js").write_text("window.YTD.tweets.part0 = " + json.dumps(tweets))
    notes = [swap(_note(i)) for i in range(40)]
    (arch / "data" / "note-tweet.js").write_text(
        "window.YTD.note_tweet.part0 = " + json.dumps(notes)
    )
    account = [{"account": swap({"username": "odile", "accountDisplayName": "O"})}]
    (arch / "data" / "account.js").write_text("window.YTD.account.part0 = " + json.dumps(account))
    outbox = {"orderedItems": [swap(_activity(i)) for i in range(40)]}
    (tmp_path / "outbox.json").write_text(json.dumps(outbox))
    actor = swap({"preferredUsername": "odile", "name": "O", "icon": {"url": "a.png"}})
    (tmp_path / "actor.json").write_text(json.dumps(actor))
    row = {"id": "0", "text": "a post", "author": "a", "lang": "en", "created_at": "2024-01-01"}
    rows = [swap({**row, "id": str(i), "is_retweet": False}) for i in range(40)]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    for source in (arch, tmp_path / "outbox.json", tmp_path / "rows.jsonl"):
        opts = PrepareOptions(min_chars=1, warn_chars=1, min_words=0)
        try:
            prepare([source], tmp_path / f"out-{source.name}", opts)
        except TweettwinError as ex:
            assert "\n" not in str(ex)


def test_a_deeply_nested_folder_source_is_walked_without_recursion(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "posts.jsonl", posts())
    depth = 1200  # past the recursion limit that os.walk (3.11) runs into
    here = os.getcwd()
    os.chdir(src)
    try:
        for _ in range(depth):
            os.mkdir("a")
            os.chdir("a")
        with open("deep.txt", "w") as fh:
            fh.write("the deepest post of them all, far down below\n")
    finally:
        os.chdir(here)
    try:
        result = run("prepare", src, "-o", tmp_path / "out")
        assert result.exit_code == 0, result.output
        assert any("deepest post" in t for t in dataset_texts(tmp_path / "out"))
    finally:  # bottom-up by hand: shutil.rmtree recurses too
        os.chdir(src)
        for _ in range(depth):
            os.chdir("a")
        os.remove("deep.txt")
        for _ in range(depth):
            os.chdir("..")
            os.rmdir("a")
        os.chdir(here)


def test_a_huge_mastodon_post_is_refused_before_its_html_is_parsed(tmp_path):
    outbox = json.loads(_outbox())
    outbox["orderedItems"][3]["object"]["content"] = "<p>" + "<b>x</b> " * 400_000 + "</p>"
    (tmp_path / "outbox.json").write_text(json.dumps(outbox))
    start = time.monotonic()
    assert_error(run("prepare", tmp_path / "outbox.json"), "orderedItems[3]", "characters")
    assert time.monotonic() - start < 10


def test_safezip_split_keeps_its_names_and_imports_one_way():
    """limits and json_stream stand alone; safezip still offers what the readers imported."""
    import ast
    from pathlib import Path

    from tweettwin.ingest.sources import json_stream, limits, safezip

    for module in (limits, json_stream):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "tweettwin.ingest.sources.safezip" not in imported
    assert safezip.iter_json_array is json_stream.iter_json_array
    assert (safezip.CHUNK, safezip.MAX_ELEMENT_CHARS) == (limits.CHUNK, limits.MAX_ELEMENT_CHARS)
    assert list(safezip.iter_json_array(iter(['x = [1, {"a": 2}]']), "t", prefix_ok=bool)) == [
        1,
        {"a": 2},
    ]
