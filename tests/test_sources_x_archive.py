"""X/Twitter archive reader: layouts, generations, long posts, metadata, bad input, real data."""

from __future__ import annotations

import html
import json
import zipfile
from pathlib import Path

import pytest

from tests.archive_fixtures import (
    AVATAR_NAME,
    BAD_INPUTS,
    FORBIDDEN_MARKER,
    INVALID_JSON_AT,
    NOTE_FULL_TEXT,
    PNG_1X1,
    X_HANDLE,
    X_NAME,
    default_x_tweets,
    write_bad_input,
    write_x_archive,
    write_zip,
    x_archive_files,
    x_tweet,
    ytd,
)
from tweettwin.errors import InputError
from tweettwin.ingest.sources import open_source
from tweettwin.ingest.sources.x_archive import read_avatar

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IDS = [str(i) for i in range(1001, 1009)]


def posts_of(path, **options):
    src = open_source(path, **options)
    return src, list(src.posts)


def by_id(posts):
    return {p.id: p for p in posts}


@pytest.mark.parametrize("layout", ["zip", "folder", "tweets-js"])
def test_every_layout_reads_the_same_posts(tmp_path, layout):
    src, posts = posts_of(write_x_archive(tmp_path, layout=layout))
    assert src.kind == "x-archive"
    assert [p.id for p in posts] == IDS[::-1]  # streamed in file order: newest first
    assert src.authors[X_HANDLE].name == X_NAME
    reference = list(open_source(write_x_archive(tmp_path / "ref", layout="zip")).posts)
    assert [p.to_dict() for p in posts] == [p.to_dict() for p in reference]


def test_post_fields(tmp_path):
    src, posts = posts_of(write_x_archive(tmp_path))
    p = by_id(posts)
    assert p["1001"].text == "Good morning, this is my very first post here"
    assert p["1001"].created_at == "2021-01-01T08:00:00Z"
    assert (p["1001"].source, p["1001"].author, p["1001"].lang) == ("x-archive", X_HANDLE, "en")
    assert p["1002"].text.startswith("Fish &amp; chips")  # entities are left for cleaning
    assert p["1002"].urls == ["https://t.co/link0002"]
    assert p["1007"].urls == ["https://t.co/media007"]
    assert [i for i, x in p.items() if x.is_repost] == ["1003"]
    assert sorted(i for i, x in p.items() if x.is_reply) == ["1004", "1005"]
    assert not any(x.private for x in posts)
    assert src.files == [src.files[0]] and src.files[0].suffix == ".zip"


def test_long_post_gets_the_note_text(tmp_path):
    _, posts = posts_of(write_x_archive(tmp_path))
    long = by_id(posts)["1006"]
    assert html.unescape(long.text) == NOTE_FULL_TEXT
    assert len(long.text) > 280 and "…" not in long.text
    _, plain = posts_of(write_x_archive(tmp_path / "n", layout="folder"), notes=False)
    assert by_id(plain)["1006"].text.endswith("… https://t.co/note0001")


def test_note_matches_a_reply_with_clock_skew(tmp_path):
    note_text = "Replying at length: " + "more words in the long reply " * 12
    tweet = x_tweet(
        "2001",
        "@pal " + note_text[:250] + "… https://t.co/abc",
        "2022-05-05T10:00:01Z",
        reply_to_status="1",
        reply_to_user="2",
    )
    note = {"noteTweet": {"createdAt": "2022-05-05T10:00:00.000Z", "core": {"text": note_text}}}
    path = write_x_archive(tmp_path, tweets=[tweet], notes=[note])
    (post,) = open_source(path).posts
    assert post.text == "@pal " + note_text and post.is_reply


def test_forbidden_files_are_never_read(tmp_path):
    for layout in ("zip", "folder"):
        src, posts = posts_of(write_x_archive(tmp_path / layout, layout=layout))
        assert all(FORBIDDEN_MARKER not in p.text for p in posts)
        names = " ".join(str(f) for f in src.files)
        assert "deleted" not in names and "like" not in names and "direct" not in names


def test_email_is_never_kept(tmp_path):
    src, _ = posts_of(write_x_archive(tmp_path, layout="folder"))
    assert "example.invalid" not in repr(src)


@pytest.mark.parametrize("parts", [1, 3])
def test_old_generation_and_multi_part(tmp_path, parts):
    path = write_x_archive(tmp_path, generation="old", parts=parts)
    names = zipfile.ZipFile(path).namelist()
    assert ("data/tweet-part2.js" in names) == (parts == 3)
    _, posts = posts_of(path)
    assert sorted(p.id for p in posts) == IDS
    assert [p.id for p in open_source(path, sort=True).posts] == IDS


def test_zip_with_a_top_folder_and_unwrapped_entries(tmp_path):
    tweets = [x_tweet("7", "an unwrapped entry still counts", wrap=False)]
    _, posts = posts_of(write_x_archive(tmp_path, root="my-archive/", tweets=tweets))
    assert [p.text for p in posts] == ["an unwrapped entry still counts"]


def test_trailing_semicolon_and_no_metadata(tmp_path):
    folder = tmp_path / "someone" / "data"
    folder.mkdir(parents=True)
    (folder / "tweets.js").write_text(ytd("tweets", default_x_tweets()) + ";\n")
    src, posts = posts_of(folder.parent)
    assert len(posts) == 8 and list(src.authors) == ["someone"]  # folder name as fallback


def test_author_from_manifest_then_override(tmp_path):
    path = write_x_archive(tmp_path, account=False, handle="from_manifest")
    assert list(open_source(path).authors) == ["from_manifest"]
    src, posts = posts_of(path, author="@chosen")
    assert list(src.authors) == ["chosen"] and {p.author for p in posts} == {"chosen"}


def test_avatar_from_profile_media(tmp_path):
    zipped = write_x_archive(tmp_path, avatar=True)
    avatar = open_source(zipped).authors[X_HANDLE].avatar
    assert avatar == f"data/profile_media/{AVATAR_NAME}"
    assert read_avatar(zipped, avatar) == PNG_1X1
    folder = write_x_archive(tmp_path / "f", layout="folder", avatar=True)
    assert Path(open_source(folder).authors[X_HANDLE].avatar).read_bytes() == PNG_1X1
    assert open_source(write_x_archive(tmp_path / "n")).authors[X_HANDLE].avatar is None


def test_edited_posts_keep_only_the_last_version(tmp_path):
    first = x_tweet("3001", "first version with a typo", "2023-01-01T10:00:00Z")
    first["tweet"]["edit_info"]["initial"]["editTweetIds"] = ["3001", "3002"]
    second = x_tweet("3002", "second version without typo", "2023-01-01T10:05:00Z")
    second["tweet"]["edit_info"] = {
        "edit": {"initialTweetId": "3001", "editControlInitial": {"editTweetIds": ["3001", "3002"]}}
    }
    path = write_x_archive(tmp_path, tweets=[second, first])
    assert [p.id for p in open_source(path).posts] == ["3002"]
    assert [p.id for p in open_source(path, keep_edits=True).posts] == ["3002", "3001"]
    assert [p.id for p in open_source(path, keep_edits=True, sort=True).posts] == ["3001", "3002"]
    alone = write_x_archive(tmp_path / "a", tweets=[first])  # newer version missing: keep it
    assert [p.id for p in open_source(alone).posts] == ["3001"]


def test_sort_option_gives_oldest_first(tmp_path):
    path = write_x_archive(tmp_path)
    assert [p.id for p in open_source(path, sort=True).posts] == IDS  # the file is newest first
    assert [p.id for p in open_source(path, sort=False).posts] == IDS[::-1]


def test_superseded_edit_streams_after_the_rest_and_counts_a_later_newer_version(tmp_path):
    old = x_tweet("4001", "old version", "2023-02-01T10:00:00Z")
    old["tweet"]["edit_info"]["initial"]["editTweetIds"] = ["4001", "4003"]
    orphan = x_tweet("4002", "an old version whose newer one is gone", "2023-02-01T11:00:00Z")
    orphan["tweet"]["edit_info"]["initial"]["editTweetIds"] = ["4002", "4009"]
    new = x_tweet("4003", "new version", "2023-02-01T10:03:00Z")
    new["tweet"]["edit_info"]["initial"]["editTweetIds"] = ["4001", "4003"]
    plain = x_tweet("4004", "plain post")
    path = write_x_archive(tmp_path, tweets=[old, orphan, plain, new])  # newer one comes later
    assert [p.id for p in open_source(path).posts] == ["4004", "4003", "4002"]


# --- the fast parser and the exact one agree ---------------------------------------------------


def _big_archive(tmp_path, odd: str):
    """~2.5 MB tweets.js (several 1 MiB batches) with one unusual entry near the end."""
    words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ".split()
    tweets = [
        x_tweet(str(10_000 + i), " ".join(words[(i + k) % len(words)] for k in range(40)) + f" {i}",
                urls=[f"https://t.co/u{i}"] if i % 3 == 0 else ())
        for i in range(4000)
    ]  # fmt: skip
    for t in tweets[::3]:
        t["tweet"]["full_text"] += " " + t["tweet"]["entities"]["urls"][0]["url"]
    t = tweets[3500]["tweet"]
    if odd == "nested-tweet-key":  # cuts between nested {"tweet": ...} objects are wrong cuts
        for nested in tweets[2000:]:
            nested["tweet"]["entities"]["user_mentions"] = [{"tweet": 1}, {"tweet": 2}] * 50
    elif odd == "unwrapped":
        tweets[3500] = {**t}
    elif odd == "odd-types":
        t["in_reply_to_user_id"], t["lang"] = 12.5, ["en"]
    elif odd == "escaped-keys":
        t["entities"]["urls"] = [{"u\u0072l": "x"}]
    elif odd == "superseded":
        t["edit_info"]["initial"]["editTweetIds"] = [t["id_str"], "10001"]
    return write_x_archive(tmp_path, tweets=tweets, layout="folder")


@pytest.mark.parametrize(
    "odd", ["none", "nested-tweet-key", "unwrapped", "odd-types", "escaped-keys", "superseded"]
)
def test_fast_path_matches_the_exact_parser(tmp_path, monkeypatch, odd):
    import tweettwin.ingest.sources.x_archive_fast as xa

    path = _big_archive(tmp_path, odd)
    exact_reads = []
    real_exact = xa._ytd_entries
    monkeypatch.setattr(xa, "_ytd_entries", lambda t, n: exact_reads.append(n) or real_exact(t, n))
    fast = [p.to_dict() for p in open_source(path).posts]
    fell_back = odd in ("nested-tweet-key", "unwrapped", "odd-types")
    assert ("data/tweets.js" in exact_reads) == fell_back

    def exact_only(tree, name):
        raise xa._Fallback
        yield

    monkeypatch.setattr(xa, "_fast_batches", exact_only)
    exact = [p.to_dict() for p in open_source(path).posts]
    assert fast == exact
    assert len(fast) == 4000 - (odd == "superseded")
    assert sum(bool(p["urls"]) for p in fast) >= 1300


def test_late_invalid_json_reports_its_line_after_earlier_batches(tmp_path):
    path = _big_archive(tmp_path, "none") / "data" / "tweets.js"
    text = path.read_text()
    cut = text.rindex('"lang"')
    path.write_text(text[:cut] + text[cut:].replace(":", "", 1))
    start = text.index("[")
    with pytest.raises(json.JSONDecodeError) as ref:
        json.loads(" " * start + path.read_text()[start:])
    posts = []
    with pytest.raises(InputError, match=f"line {ref.value.lineno}, column {ref.value.colno}"):
        posts.extend(open_source(path).posts)
    # the posts before the broken entry streamed out once each, though the file was re-read
    assert [p.id for p in posts] == [str(10_000 + i) for i in range(3999)]


# --- bad input --------------------------------------------------------------------------------

EXPECTED = {
    "missing": "no such file or folder",
    "not-zip": "not a valid zip file",
    "corrupt-zip": "damaged zip member",
    "zip-without-tweets": "neither data/tweets.js",
    "empty-zip": "empty",
    "huge-declared-size": "limit",
    "bad-prefix": "unexpected start 'var tweets ='",
    "invalid-json": f"line {INVALID_JSON_AT[0]}, column {INVALID_JSON_AT[1]}",
    "missing-field": "entry 1 (tweet 2) has no 'full_text' field",
    "non-utf8": "byte 0xe9 at byte offset",
    "unknown-type": "unsupported input type '.docx'",
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_gives_one_clear_line(tmp_path, kind):
    path = write_bad_input(tmp_path, kind)
    with pytest.raises(InputError) as err:
        list(open_source(path).posts)
    msg = str(err.value)
    assert EXPECTED[kind] in msg and "\n" not in msg
    assert path.name in msg


def test_invalid_json_position_refers_to_the_original_file(tmp_path):
    path = write_bad_input(tmp_path, "invalid-json")
    text = path.read_text()
    start = text.index("[")
    with pytest.raises(json.JSONDecodeError) as ref:  # same coordinates: prefix blanked out
        json.loads(" " * start + text[start:])
    with pytest.raises(InputError, match=f"line {ref.value.lineno}, column {ref.value.colno}"):
        list(open_source(path).posts)


def test_non_utf8_offset_is_exact(tmp_path):
    path = write_bad_input(tmp_path, "non-utf8")
    offset = path.read_bytes().index(b"\xe9")
    with pytest.raises(InputError, match=f"byte offset {offset:,}"):
        list(open_source(path).posts)


def test_member_limit_is_configurable_and_enforced(tmp_path):
    path = write_x_archive(tmp_path)
    with pytest.raises(InputError, match="limit"):
        list(open_source(path, max_member_bytes=1000).posts)


def test_lying_size_header_is_caught(tmp_path):
    path = write_zip(tmp_path / "lie.zip", {"data/tweets.js": x_archive_files()["data/tweets.js"]})
    raw = bytearray(path.read_bytes())
    cd = raw.index(b"PK\x01\x02")
    raw[cd + 24 : cd + 28] = (100).to_bytes(4, "little")  # claims 100 bytes
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError):
        list(open_source(path).posts)


def test_empty_tweets_file_and_wrong_js_file(tmp_path):
    folder = tmp_path / "acct" / "data"
    folder.mkdir(parents=True)
    (folder / "tweets.js").write_text("window.YTD.tweets.part0 = [ ]")
    with pytest.raises(InputError, match="contains no tweets"):
        list(open_source(folder / "tweets.js").posts)
    (folder / "like.js").write_text("window.YTD.like.part0 = [ ]")
    with pytest.raises(InputError, match="not a tweets file"):
        open_source(folder / "like.js")


def test_entry_that_is_not_an_object(tmp_path):
    folder = tmp_path / "acct" / "data"
    folder.mkdir(parents=True)
    (folder / "tweets.js").write_text("window.YTD.tweets.part0 = [ 42 ]")
    with pytest.raises(InputError, match="entry 0 is not a tweet object"):
        list(open_source(folder.parent).posts)


# --- real archives ----------------------------------------------------------------------------

REAL = SHARED / "x-archive"
needs_real = pytest.mark.skipif(not (REAL / "alrocar.zip").exists(), reason="no shared data")


@needs_real
def test_real_andreruffert_zip_and_folder_agree():
    src, posts = posts_of(REAL / "andreruffert.zip")
    assert len(posts) == 1986
    assert sum(p.is_repost for p in posts) == 643
    assert sum(p.is_reply for p in posts) == 485 + 68  # status replies + old-style mentions
    assert list(src.authors) == ["andreruffert"]
    ids = [int(p.id) for p in open_source(REAL / "andreruffert.zip", sort=True).posts]
    assert ids == sorted(int(p.id) for p in posts)
    assert all(p.created_at and p.created_at.endswith("Z") for p in posts)
    folder = list(open_source(REAL / "andreruffert").posts)
    assert [p.to_dict() for p in folder] == [p.to_dict() for p in posts]


@needs_real
def test_real_alrocar_long_posts():
    notes_js = (REAL / "alrocar" / "data" / "note-tweet.js").read_text()
    notes = [n["noteTweet"]["core"]["text"] for n in json.loads(notes_js[notes_js.index("[") :])]
    assert len(notes) == 41
    posts = list(open_source(REAL / "alrocar.zip").posts)
    # 1223 entries, minus 5 superseded versions of edited posts
    assert len(posts) == 1218
    assert len(list(open_source(REAL / "alrocar.zip", keep_edits=True).posts)) == 1223
    texts = [html.unescape(p.text) for p in posts]
    matched = [n for n in notes if any(t.endswith(n) for t in texts)]
    assert len(matched) >= 40
    cut = {p.id: p.text for p in open_source(REAL / "alrocar.zip", notes=False).posts}
    replaced = [p for p in posts if p.text != cut[p.id]]
    assert len(replaced) >= 40 and max(len(p.text) for p in replaced) > 1000
    assert all(html.unescape(p.text).endswith(tuple(notes)) for p in replaced)
    assert sum("…" in cut[p.id] for p in replaced) >= 30  # truncated in tweets.js, now whole
