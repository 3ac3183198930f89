"""Tabular readers (CSV/JSON/JSONL/TXT and folders), date parsing, and open_source dispatch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.archive_fixtures import (
    sample_rows,
    write_csv,
    write_json,
    write_jsonl,
    write_txt,
    write_year_folder,
)
from tweettwin.errors import ConfigError, InputError
from tweettwin.ingest.sources import SCHEMES, SourceData, open_source
from tweettwin.ingest.sources.files import parse_date

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def posts(path, **options):
    return list(open_source(path, **options).posts)


def check_sample(ps, source):
    assert [p.id for p in ps] == ["11", "12", "13", "14", "15", "16"]
    assert ps[0].created_at == "2020-03-18T21:48:42Z"
    assert ps[1].text == "Salt &amp; pepper on everything"  # entities are left for cleaning
    assert [p.id for p in ps if p.is_repost] == ["14", "15"]  # flag, and RT text without flag
    assert [p.id for p in ps if p.is_reply] == ["16"]
    assert {p.source for p in ps} == {source}


@pytest.mark.parametrize(
    ("writer", "name", "source"),
    [
        (write_csv, "dump.csv", "csv"),
        (write_json, "dump.json", "json"),
        (write_jsonl, "dump.jsonl", "jsonl"),
        (write_jsonl, "dump.ndjson", "jsonl"),
    ],
)
def test_each_format(tmp_path, writer, name, source):
    path = writer(tmp_path / name, sample_rows())
    src = open_source(path)
    assert src.kind == source and list(src.authors) == ["dump"] and src.files == [path]
    check_sample(list(src.posts), source)


@pytest.mark.parametrize("wrapper", ["tweets", "posts", "data"])
def test_json_wrappers(tmp_path, wrapper):
    check_sample(posts(write_json(tmp_path / "w.json", sample_rows(), wrapper=wrapper)), "json")


def test_text_column_detection_and_option(tmp_path):
    rows = [
        {"Tweet_ID": "1", "Content": "hello there my friends", "Date": "2019-07-01 15:54:18 +0000"}
    ]
    (p,) = posts(write_csv(tmp_path / "a.csv", rows))
    assert (p.id, p.text, p.created_at) == ("1", "hello there my friends", "2019-07-01T15:54:18Z")
    rows = [{"words": "first", "notes": "second"}]
    path = write_csv(tmp_path / "b.csv", rows)
    with pytest.raises(InputError, match="cannot tell which column.*words, notes"):
        posts(path)
    assert [p.text for p in posts(path, text_column="NOTES")] == ["second"]
    with pytest.raises(InputError, match="no column 'nope'"):
        posts(path, text_column="nope")


def test_single_column_csv(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text('quote\nfirst line of text\n"second, with a comma"\n')
    assert [p.text for p in posts(path)] == ["first line of text", "second, with a comma"]


def test_missing_ids_are_stable_hashes(tmp_path):
    a = posts(write_txt(tmp_path / "a.txt", ["one post", "", "two post", "one post"]))
    assert [p.text for p in a] == ["one post", "two post", "one post"]
    assert len({p.id for p in a}) == 3 and a[2].id == a[0].id + "-2"
    b = posts(write_txt(tmp_path / "b.txt", ["new first", "one post", "two post"]))
    assert b[1].id == a[0].id and b[2].id == a[1].id  # adding posts keeps old ids
    assert {p.source for p in a} == {"text"}


def test_author_column(tmp_path):
    rows = [
        {"text": "by ann here", "screen_name": "@ann"},
        {"text": "by bob here", "screen_name": "bob"},
        {"text": "nobody named", "screen_name": ""},
    ]
    src = open_source(write_jsonl(tmp_path / "many.jsonl", rows), author="fallback")
    assert [p.author for p in src.posts] == ["ann", "bob", "fallback"]
    assert sorted(src.authors) == ["ann", "bob", "fallback"]


def test_folder_is_one_source(tmp_path):
    folder = write_year_folder(tmp_path, years=(2020, 2019), per_year=3)
    src = open_source(folder)
    ps = list(src.posts)
    assert src.kind == "json" and list(src.authors) == ["by-year"]
    assert [f.name for f in src.files] == ["2019.json", "2020.json"]  # sorted order
    assert len(ps) == 6 and ps[0].id.startswith("2019") and ps[-1].id.startswith("2020")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed Mar 18 21:48:42 +0000 2020", "2020-03-18T21:48:42Z"),
        ("Wed Mar 18 21:48:42 +0200 2020", "2020-03-18T19:48:42Z"),
        ("2020-03-18T21:48:42Z", "2020-03-18T21:48:42Z"),
        ("2020-03-18T21:48:42.123Z", "2020-03-18T21:48:42Z"),
        ("2020-03-18T23:48:42+02:00", "2020-03-18T21:48:42Z"),
        ("2019-07-01 15:54:18 +0000", "2019-07-01T15:54:18Z"),
        ("2019-07-01 15:54:18", "2019-07-01T15:54:18Z"),
        ("10-28-2020 20:03:29", "2020-10-28T20:03:29Z"),
        (1584568122, "2020-03-18T21:48:42Z"),
        ("1584568122000", "2020-03-18T21:48:42Z"),
        ("someday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


# --- bad input --------------------------------------------------------------------------------


def test_bad_jsonl_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n\n{"text": oops}\n')
    with pytest.raises(InputError, match=r"bad.jsonl: invalid JSON at line 3, column 10"):
        posts(path)


def test_bad_json_array(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"text": "fine"},\n  {"text": "x",}\n]')
    with pytest.raises(InputError, match="line 3, column 16"):
        posts(path)
    path.write_text('{"something": 1}')
    with pytest.raises(InputError, match="expected a JSON array"):
        posts(path)


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text\nhello\ncaf\xe9 au lait\n")
    with pytest.raises(InputError, match="byte 0xe9 at byte offset 14"):
        posts(path)


def test_json_element_that_is_not_a_post(tmp_path):
    with pytest.raises(InputError, match="entry 1: expected an object"):
        posts(write_json(tmp_path / "n.json", [{"text": "ok"}, 5]))


def test_folder_without_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.md").write_text("# not an input")
    with pytest.raises(InputError, match="no supported files"):
        open_source(tmp_path / "empty")


# --- open_source ------------------------------------------------------------------------------


def test_unknown_option_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="colour"):
        open_source(write_txt(tmp_path / "a.txt", ["x"]), colour="blue")


def test_none_options_mean_default(tmp_path):
    path = write_csv(tmp_path / "d.csv", sample_rows())
    check_sample(posts(path, author=None, text_column=None, sort=None), "csv")


def test_scheme_specs_dispatch(monkeypatch):
    seen = {}

    def opener(rest, *, spec, **options):
        seen.update(rest=rest, spec=spec, options=options)
        return SourceData(spec=spec, kind="fetched", files=[], posts=iter(()))

    monkeypatch.setitem(SCHEMES, "demo", opener)
    assert open_source("demo:@me@host", author="x").kind == "fetched"
    assert seen == {"rest": "@me@host", "spec": "demo:@me@host", "options": {"author": "x"}}


# --- real data --------------------------------------------------------------------------------


@pytest.mark.skipif(not (SHARED / "large").exists(), reason="no shared data")
def test_real_large_folders():
    old = open_source(SHARED / "large" / "trump-tta-2009-2017")
    ps = list(old.posts)
    assert len(old.files) == 9 and len(ps) == 31_000
    assert sum(p.is_repost for p in ps) == 260  # is_retweet OR "RT @" text
    assert sum(p.is_reply for p in ps) == 2410
    new = list(open_source(SHARED / "large" / "trump-tta-2019-2020").posts)
    assert len(new) == 9_961 and sum(p.is_repost for p in new) == 4262
    assert all(p.created_at and p.created_at.endswith("Z") for p in ps + new)
    assert len({p.id for p in ps + new}) == 40_961
