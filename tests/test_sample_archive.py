"""The bundled sample archive: reproducible from its script, and a usable X archive for prepare."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_sample_archive", EXAMPLES / "make_sample_archive.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_zip_is_what_the_script_writes():
    script = _script()
    committed = zipfile.ZipFile(EXAMPLES / "sample-archive.zip")
    members = script.archive_members()
    assert committed.namelist() == list(members)
    for name, data in members.items():
        assert committed.read(name) == data, name
        assert committed.getinfo(name).date_time == script.GENERATED.timetuple()[:6]
    assert (EXAMPLES / "sample-archive.zip").stat().st_size < 1_000_000


def test_it_has_the_real_export_layout():
    zf = zipfile.ZipFile(EXAMPLES / "sample-archive.zip")
    text = zf.read("data/tweets.js").decode()
    assert text.startswith("window.YTD.tweets.part0 = [")
    tweets = [row["tweet"] for row in json.loads(text[text.index("[") :])]
    assert 450 <= len(tweets) <= 600
    assert all(
        isinstance(t["id_str"], str) and isinstance(t["favorite_count"], str) for t in tweets
    )
    assert any(t["full_text"].startswith("RT @") for t in tweets)
    assert any("in_reply_to_status_id_str" in t and t["full_text"].startswith("@") for t in tweets)
    assert any("&amp;" in t["full_text"] for t in tweets)
    assert any(
        u["url"].startswith("https://t.co/") and u["expanded_url"]
        for t in tweets
        for u in t["entities"]["urls"]
    )
    assert zf.read("data/note-tweet.js").startswith(b"window.YTD.note_tweet.part0 = [")
    assert zf.read("data/manifest.js").startswith(b"window.__THAR_CONFIG = {")
    assert any(n.startswith("data/profile_media/") and n.endswith(".png") for n in zf.namelist())


def test_prepare_reads_it_without_warnings(tmp_path):
    from tweettwin.ingest.prepare import prepare

    result = prepare([EXAMPLES / "sample-archive.zip"], tmp_path / "data")
    assert result.warnings == []
    (author,) = result.manifest["authors"]
    assert author["handle"] == "odile_bakes" and author["name"] == "Odile Brackwater"
    assert author["retweets"] > 0 and author["duplicates"] > 0 and author["short"] > 0
    assert result.manifest["characters"] > 40_000
    texts = [json.loads(line)["text"] for line in (tmp_path / "data" / "train.jsonl").open()]
    texts += [json.loads(line)["text"] for line in (tmp_path / "data" / "validation.jsonl").open()]
    assert any(len(t) > 400 and "gran" in t for t in texts)  # the note tweet's full text
    assert not any("t.co" in t or t.startswith("@") or "&amp;" in t for t in texts)
