"""Mastodon export reader: layouts, HTML to text, boosts, visibility, bad input, real export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.archive_fixtures import (
    MASTO_NAME,
    MASTO_USER,
    PNG_1X1,
    default_mastodon_items,
    mastodon_outbox,
    write_mastodon_export,
    write_zip,
)
from tweettwin.errors import InputError
from tweettwin.ingest.sources import open_source
from tweettwin.ingest.sources.mastodon_archive import html_to_text
from tweettwin.ingest.sources.x_archive import read_avatar

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def read(path, **options):
    src = open_source(path, **options)
    return src, {p.id: p for p in src.posts}


@pytest.mark.parametrize("layout", ["zip", "outbox", "folder"])
def test_layouts_agree(tmp_path, layout):
    src, posts = read(write_mastodon_export(tmp_path, layout=layout))
    assert src.kind == "mastodon-archive"
    assert list(posts) == [str(i) for i in range(201, 208)]  # the array counts, not totalItems
    assert src.authors[MASTO_USER].name == MASTO_NAME
    _, ref = read(write_mastodon_export(tmp_path / "ref"))
    assert [p.to_dict() for p in posts.values()] == [p.to_dict() for p in ref.values()]


def test_post_fields(tmp_path):
    _, p = read(write_mastodon_export(tmp_path))
    first = p["201"]
    assert first.text == (
        "First paragraph here\n\nsecond line one\nsecond line two "
        "https://example.org/some/long/path"
    )
    assert first.urls == ["https://example.org/some/long/path"]
    assert (first.created_at, first.lang, first.source) == (
        "2023-01-01T10:00:00Z",
        "en",
        "mastodon-archive",
    )
    assert p["202"].text == "&quot;Quoted&quot; words about #cats &amp; dogs"  # decoded by cleaning
    assert p["202"].urls == []  # hashtag links are not links to strip
    assert p["204"].text == "@pal thanks for the tip, it works" and p["204"].is_reply
    assert p["205"].is_repost and p["205"].text == ""
    assert [i for i, x in p.items() if x.is_repost] == ["205"]


def test_visibility(tmp_path):
    _, p = read(write_mastodon_export(tmp_path))
    assert sorted(i for i, x in p.items() if x.private) == ["206", "207"]  # followers, direct
    assert not p["203"].private  # unlisted is public


def test_author_without_actor_and_override(tmp_path):
    path = write_mastodon_export(tmp_path, actor=False)
    assert list(open_source(path).authors) == [MASTO_USER]  # from the actor URL
    src, p = read(path, author="someone")
    assert list(src.authors) == ["someone"] and {x.author for x in p.values()} == {"someone"}


def test_avatar_in_zip(tmp_path):
    path = write_mastodon_export(tmp_path, avatar=True)
    avatar = open_source(path).authors[MASTO_USER].avatar
    assert avatar == "avatar.png" and read_avatar(path, avatar) == PNG_1X1


def test_json_with_ordered_items_is_sniffed(tmp_path):
    path = tmp_path / "my-export.json"
    path.write_text(json.dumps(mastodon_outbox(default_mastodon_items())))
    assert open_source(path).kind == "mastodon-archive"


def test_html_to_text_pieces():
    assert html_to_text("no markup") == ("no markup", [])
    text, urls = html_to_text('<p>a<br />b</p><p><a href="https://x.org/">x.org</a></p>')
    assert text == "a\nb\n\nx.org" and urls == ["https://x.org/"]


def test_bad_outbox(tmp_path):
    bad = tmp_path / "outbox.json"
    bad.write_text('{"orderedItems": [\n  {"type": "Create",,}\n]}')
    with pytest.raises(InputError, match="line 2, column"):
        open_source(bad)
    bad.write_text('{"type": "OrderedCollection"}')
    with pytest.raises(InputError, match="no 'orderedItems'"):
        open_source(bad)
    empty = write_zip(tmp_path / "export.zip", {"likes.json": b"{}"})
    with pytest.raises(InputError, match="neither"):
        open_source(empty)


@pytest.mark.skipif(not (SHARED / "mastodon" / "dealingwith").exists(), reason="no shared data")
def test_real_export(tmp_path):
    folder = SHARED / "mastodon" / "dealingwith"
    src, posts = read(folder / "outbox.json")
    assert len(posts) == 1586
    assert sum(p.is_repost for p in posts.values()) == 326
    assert sum(p.private for p in posts.values()) == 75  # 40 followers-only + 35 direct
    assert list(src.authors) == ["dealingwith"]
    zipped = write_zip(
        tmp_path / "archive.zip",
        {n: (folder / n).read_bytes() for n in ("outbox.json", "actor.json")},
    )
    _, again = read(zipped)
    assert [p.to_dict() for p in again.values()] == [p.to_dict() for p in posts.values()]
