"""Writers for small synthetic inputs: X archives, Mastodon exports, tabular dumps, bad inputs.

Every function WRITES files under a destination you give (usually ``tmp_path``) and returns
the path to pass to ``open_source``. All text is made up here; nothing is copied from real
accounts. Reused by the source, cleaning, prepare and CLI tests.

X archive (``write_x_archive``), default content, oldest first by id:

    ========  ==========================================================  =====================
    id        what                                                        flags
    ========  ==========================================================  =====================
    1001      plain original post                                         -
    1002      original with ``&amp;``/``&lt;`` entities and a t.co link  urls=[t.co]
    1003      retweet ``RT @someone: ...``                                is_repost
    1004      reply ``@friend @other ...`` (in_reply_to_status_id_str)    is_reply
    1005      old-style mention (only in_reply_to_user_id_str)            is_reply
    1006      long post truncated with ``…`` + t.co, full text in notes   text = note (long)
    1007      photo only (media t.co)                                     urls=[t.co]
    1008      post with emoji                                             -
    ========  ==========================================================  =====================

Files that must NEVER be read as posts (``deleted-tweets.js``, ``twitter-circle-tweet.js``,
``like.js``, ``direct-messages.js``) are written with texts containing ``FORBIDDEN_MARKER``.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

FORBIDDEN_MARKER = "NEVER-READ-THIS"
X_HANDLE = "fixture_user"
X_NAME = "Fixture User"
X_ACCOUNT_ID = "424242"
AVATAR_NAME = "424242-avatar.png"
# A valid 1x1 PNG, enough for anything that opens the avatar.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a8"
    "b9e50000000049454e44ae426082"
)
NOTE_FULL_TEXT = (
    "This is a long post that goes well past the old limit & keeps going. "
    + " ".join(f"Sentence number {i} adds a few more words to the long post." for i in range(1, 6))
    + " The end."
)

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()


def twitter_date(iso: str) -> str:
    """'2021-03-04T05:06:07Z' -> Twitter's 'Thu Mar 04 05:06:07 +0000 2021'."""
    from datetime import datetime

    d = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
    return f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d:%d %H:%M:%S} +0000 {d.year}"


def x_tweet(
    id: str,
    full_text: str,
    created_at: str = "2021-03-04T05:06:07Z",
    *,
    reply_to_status: str | None = None,
    reply_to_user: str | None = None,
    reply_to_screen_name: str | None = None,
    urls: Sequence[str] = (),
    media_urls: Sequence[str] = (),
    lang: str = "en",
    wrap: bool = True,
) -> dict:
    """One archive entry shaped like a real export: numbers as strings, optional keys absent.

    ``created_at`` is ISO (``YYYY-MM-DDTHH:MM:SSZ``) and written in Twitter's format.
    ``urls``/``media_urls`` are t.co links that must appear in ``full_text``.
    ``wrap`` puts it in ``{"tweet": {...}}`` as exports do.
    """
    entities: dict = {
        "hashtags": [],
        "symbols": [],
        "user_mentions": [],
        "urls": [
            {
                "url": u,
                "expanded_url": f"https://example.com/page/{i}",
                "display_url": f"example.com/page/{i}",
                "indices": [str(full_text.find(u)), str(full_text.find(u) + len(u))],
            }
            for i, u in enumerate(urls)
        ],
    }
    tweet: dict = {
        "edit_info": {"initial": {"editTweetIds": [id], "editsRemaining": "5"}},
        "retweeted": False,
        "source": '<a href="https://example.com" rel="nofollow">Fixture client</a>',
        "entities": entities,
        "display_text_range": ["0", str(len(full_text))],
        "favorite_count": "1",
        "id_str": id,
        "truncated": False,
        "retweet_count": "0",
        "id": id,
        "created_at": twitter_date(created_at),
        "favorited": False,
        "full_text": full_text,
        "lang": lang,
    }
    if media_urls:
        media = [
            {
                "url": u,
                "expanded_url": f"https://x.com/{X_HANDLE}/status/{id}/photo/1",
                "media_url_https": "https://example.com/media.jpg",
                "type": "photo",
                "indices": ["0", str(len(u))],
            }
            for u in media_urls
        ]
        entities["media"] = media
        tweet["extended_entities"] = {"media": media}
    if reply_to_status:
        tweet["in_reply_to_status_id_str"] = reply_to_status
        tweet["in_reply_to_status_id"] = reply_to_status
    if reply_to_user:
        tweet["in_reply_to_user_id_str"] = reply_to_user
        tweet["in_reply_to_user_id"] = reply_to_user
    if reply_to_screen_name:
        tweet["in_reply_to_screen_name"] = reply_to_screen_name
    return {"tweet": tweet} if wrap else tweet


def default_x_tweets() -> list[dict]:
    """The eight wrapped entries described in the module docstring, newest first like exports."""
    truncated = NOTE_FULL_TEXT[:260].replace("&", "&amp;") + "… https://t.co/note0001"
    tweets = [
        x_tweet("1001", "Good morning, this is my very first post here", "2021-01-01T08:00:00Z"),
        x_tweet(
            "1002",
            "Fish &amp; chips are 3 &lt; 4 times better https://t.co/link0002",
            "2021-01-02T09:00:00Z",
            urls=["https://t.co/link0002"],
        ),
        x_tweet("1003", "RT @someone: somebody else wrote this text", "2021-01-03T10:00:00Z"),
        x_tweet(
            "1004",
            "@friend @other I fully agree with both of you on that",
            "2021-01-04T11:00:00Z",
            reply_to_status="999",
            reply_to_user="77",
            reply_to_screen_name="friend",
        ),
        x_tweet(
            "1005",
            "@friend old style mention without a status id",
            "2021-01-05T12:00:00Z",
            reply_to_user="77",
        ),
        x_tweet(
            "1006",
            truncated,
            "2021-01-06T13:00:00Z",
            urls=["https://t.co/note0001"],
        ),
        x_tweet(
            "1007",
            "https://t.co/media007",
            "2021-01-07T14:00:00Z",
            media_urls=["https://t.co/media007"],
        ),
        x_tweet("1008", "Sunny day at the beach again 🌞🏖️ so happy", "2021-01-08T15:00:00Z"),
    ]
    return list(reversed(tweets))


def default_x_notes() -> list[dict]:
    """note-tweet.js entries: one matching tweet 1006 (by time + text prefix, no tweet id)."""
    return [
        {
            "noteTweet": {
                "noteTweetId": "5550001",  # never a tweet id, as in real exports
                "updatedAt": "2021-01-06T13:00:00.000Z",
                "lifecycle": {"value": "1", "name": "Active"},
                "createdAt": "2021-01-06T13:00:00.000Z",
                "core": {
                    "styletags": [],
                    "urls": [],
                    "text": NOTE_FULL_TEXT,
                    "mentions": [],
                    "cashtags": [],
                    "hashtags": [],
                },
            }
        },
        {  # a note whose tweet is not in the archive: must be ignored
            "noteTweet": {
                "noteTweetId": "5550002",
                "createdAt": "2020-05-05T05:05:05.000Z",
                "core": {"text": "A note without its tweet " * 20},
            }
        },
    ]


def ytd(name: str, data, part: int = 0) -> str:
    """Serialize like an export: ``window.YTD.<name>.part<N> = [ ... ]`` (no trailing ';')."""
    return f"window.YTD.{name}.part{part} = " + json.dumps(data, ensure_ascii=False, indent=2)


def x_archive_files(
    *,
    tweets: list[dict] | None = None,
    generation: str = "new",
    parts: int = 1,
    notes: list[dict] | None = None,
    account: bool = True,
    manifest: bool = True,
    profile: bool = True,
    avatar: bool = False,
    handle: str = X_HANDLE,
    display_name: str = X_NAME,
    forbidden_files: bool = True,
) -> dict[str, bytes]:
    """The files of an archive as ``{"data/<name>": bytes}`` (see ``write_x_archive``)."""
    tweets = default_x_tweets() if tweets is None else tweets
    notes = default_x_notes() if notes is None else notes
    stem, name = ("tweets", "tweets") if generation == "new" else ("tweet", "tweet")
    files: dict[str, bytes] = {}
    chunks = [tweets[i::parts] for i in range(parts)]
    for i, chunk in enumerate(chunks):
        fname = f"data/{stem}.js" if i == 0 else f"data/{stem}-part{i}.js"
        files[fname] = ytd(name, chunk, i).encode()
    if notes:
        files["data/note-tweet.js"] = ytd("note_tweet", notes).encode()
    if account:
        files["data/account.js"] = ytd(
            "account",
            [
                {
                    "account": {
                        "email": "person@example.invalid",
                        "createdVia": "web",
                        "username": handle,
                        "accountId": X_ACCOUNT_ID,
                        "createdAt": "2010-01-01T00:00:00.000Z",
                        "accountDisplayName": display_name,
                    }
                }
            ],
        ).encode()
    if manifest:
        cfg = {
            "userInfo": {
                "accountId": X_ACCOUNT_ID,
                "userName": handle,
                "displayName": display_name,
            },
            "archiveInfo": {"generationDate": "2021-02-01T00:00:00.000Z"},
        }
        files["data/manifest.js"] = ("window.__THAR_CONFIG = " + json.dumps(cfg, indent=2)).encode()
    if profile:
        files["data/profile.js"] = ytd(
            "profile",
            [
                {
                    "profile": {
                        "description": {"bio": "Made-up bio", "website": "", "location": ""},
                        "avatarMediaUrl": f"./data/profile_media/{AVATAR_NAME}",
                        "headerMediaUrl": f"./data/profile_media/{X_ACCOUNT_ID}-header.jpg",
                    }
                }
            ],
        ).encode()
    if avatar:
        files[f"data/profile_media/{AVATAR_NAME}"] = PNG_1X1
    if forbidden_files:
        bad = x_tweet("9001", f"deleted {FORBIDDEN_MARKER}")
        files["data/deleted-tweets.js"] = ytd("deleted_tweets", [bad]).encode()
        files["data/twitter-circle-tweet.js"] = ytd("twitter_circle_tweet", [bad]).encode()
        files["data/like.js"] = ytd(
            "like", [{"like": {"tweetId": "9002", "fullText": FORBIDDEN_MARKER}}]
        ).encode()
        files["data/direct-messages.js"] = ytd(
            "direct_messages",
            [{"dmConversation": {"messages": [{"messageCreate": {"text": FORBIDDEN_MARKER}}]}}],
        ).encode()
    return files


def write_x_archive(dest: Path, *, layout: str = "zip", root: str = "", **kwargs) -> Path:
    """Write a synthetic X archive and return the path to give ``open_source``.

    layout: ``"zip"`` -> ``dest/<handle>.zip`` (returned); ``"folder"`` -> ``dest/<handle>/``
    with ``data/`` inside (the folder is returned); ``"tweets-js"`` -> the folder is written
    and ``.../data/tweets.js`` (or ``tweet.js``) is returned.
    root: a folder prefix inside the zip (``"archive/"`` -> ``archive/data/tweets.js``).
    kwargs go to ``x_archive_files``: tweets, generation ("new" | "old"), parts, notes,
    account, manifest, profile, avatar, handle, display_name, forbidden_files.
    """
    files = x_archive_files(**kwargs)
    handle = kwargs.get("handle", X_HANDLE)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if layout == "zip":
        out = dest / f"{handle}.zip"
        write_zip(out, {root + k: v for k, v in files.items()})
        return out
    folder = dest / handle
    for name, data in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    if layout == "folder":
        return folder
    if layout == "tweets-js":
        gen = kwargs.get("generation", "new")
        return folder / "data" / ("tweets.js" if gen == "new" else "tweet.js")
    raise ValueError(f"unknown layout {layout!r}")


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    """A deflated zip with the given members (names as given)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


# --- Mastodon ---------------------------------------------------------------------------------

MASTO_HOST = "https://social.example"
MASTO_USER = "fixture_toot"
MASTO_NAME = "Fixture Tooter"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_ACTOR = f"{MASTO_HOST}/users/{MASTO_USER}"


def mastodon_create(
    status_id: str,
    content_html: str,
    published: str = "2023-01-01T10:00:00Z",
    *,
    visibility: str = "public",
    in_reply_to: str | None = None,
    lang: str = "en",
) -> dict:
    """A ``Create`` activity with a ``Note``. visibility: public | unlisted | followers | direct
    (encoded only through ``to``/``cc``, as in real exports). Private ones get made-up
    placeholder text: never put anything meaningful there."""
    followers = f"{_ACTOR}/followers"
    to, cc = {
        "public": ([PUBLIC], [followers]),
        "unlisted": ([followers], [PUBLIC]),
        "followers": ([followers], []),
        "direct": ([f"{MASTO_HOST}/users/someone"], []),
    }[visibility]
    note_id = f"{_ACTOR}/statuses/{status_id}"
    return {
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": _ACTOR,
        "published": published,
        "to": to,
        "cc": cc,
        "object": {
            "id": note_id,
            "type": "Note",
            "summary": None,
            "inReplyTo": in_reply_to,
            "published": published,
            "url": f"{MASTO_HOST}/@{MASTO_USER}/{status_id}",
            "attributedTo": _ACTOR,
            "to": to,
            "cc": cc,
            "sensitive": False,
            "content": content_html,
            "contentMap": {lang: content_html},
            "attachment": [],
            "tag": [],
        },
    }


def mastodon_announce(
    status_id: str, boosted_url: str, published: str = "2023-01-02T10:00:00Z"
) -> dict:
    """A boost: ``object`` is only the URL of someone else's post."""
    return {
        "id": f"{_ACTOR}/statuses/{status_id}/activity",
        "type": "Announce",
        "actor": _ACTOR,
        "published": published,
        "to": [PUBLIC],
        "cc": [f"{_ACTOR}/followers"],
        "object": boosted_url,
    }


LINK_HTML = (
    '<a href="https://example.org/some/long/path" target="_blank" rel="nofollow noopener">'
    '<span class="invisible">https://</span><span class="ellipsis">example.org/some/lo</span>'
    '<span class="invisible">ng/path</span></a>'
)
MENTION_HTML = (
    '<span class="h-card" translate="no"><a href="https://other.example/@pal" '
    'class="u-url mention">@<span>pal</span></a></span>'
)
HASHTAG_HTML = (
    '<a href="https://social.example/tags/cats" class="mention hashtag" rel="tag">'
    "#<span>cats</span></a>"
)


def default_mastodon_items() -> list[dict]:
    """Oldest first: 2 public, 1 unlisted, 1 reply, 1 boost, 1 followers-only, 1 direct.

    ids 201 (paragraphs + <br> + link), 202 (&quot; entities + hashtag), 203 unlisted,
    204 public reply with a mention, 205 Announce, 206 followers-only, 207 direct.
    """
    return [
        mastodon_create(
            "201",
            f"<p>First paragraph here</p><p>second line one<br>second line two {LINK_HTML}</p>",
            "2023-01-01T10:00:00Z",
        ),
        mastodon_create(
            "202",
            f"<p>&quot;Quoted&quot; words about {HASHTAG_HTML} &amp; dogs</p>",
            "2023-01-02T10:00:00Z",
        ),
        mastodon_create(
            "203",
            "<p>An unlisted but still public post</p>",
            "2023-01-03T10:00:00Z",
            visibility="unlisted",
        ),
        mastodon_create(
            "204",
            f"<p>{MENTION_HTML} thanks for the tip, it works</p>",
            "2023-01-04T10:00:00Z",
            in_reply_to="https://other.example/users/pal/statuses/1",
        ),
        mastodon_announce(
            "205", "https://other.example/users/pal/statuses/2", "2023-01-05T10:00:00Z"
        ),
        mastodon_create(
            "206",
            "<p>placeholder followers-only</p>",
            "2023-01-06T10:00:00Z",
            visibility="followers",
        ),
        mastodon_create(
            "207", "<p>placeholder direct</p>", "2023-01-07T10:00:00Z", visibility="direct"
        ),
    ]


def mastodon_outbox(items: list[dict], total_items: int | None = None) -> dict:
    """The ``OrderedCollection``; ``total_items`` defaults to a wrong count, as in real exports."""
    return {
        "@context": ["https://www.w3.org/ns/activitystreams"],
        "id": "outbox.json",
        "type": "OrderedCollection",
        "totalItems": len(items) - 1 if total_items is None else total_items,
        "orderedItems": items,
    }


def mastodon_actor(
    handle: str = MASTO_USER, name: str = MASTO_NAME, *, icon: str | None = None
) -> dict:
    actor = {
        "id": _ACTOR,
        "type": "Person",
        "preferredUsername": handle,
        "name": name,
        "outbox": "outbox.json",
        "url": f"{MASTO_HOST}/@{handle}",
    }
    if icon:
        actor["icon"] = {"type": "Image", "mediaType": "image/png", "url": icon}
    return actor


def write_mastodon_export(
    dest: Path,
    *,
    layout: str = "zip",
    items: list[dict] | None = None,
    actor: bool = True,
    avatar: bool = False,
    name: str = "mastodon-export",
) -> Path:
    """Write a Mastodon "Request archive" export; returns the path for ``open_source``.

    layout: ``"zip"`` -> ``dest/<name>.zip`` with outbox.json (+ actor.json, avatar.png);
    ``"outbox"`` -> ``dest/<name>/outbox.json`` (actor.json beside it) is returned;
    ``"folder"`` -> ``dest/<name>/`` is returned.
    """
    items = default_mastodon_items() if items is None else items
    files = {"outbox.json": json.dumps(mastodon_outbox(items)).encode()}
    if actor:
        files["actor.json"] = json.dumps(
            mastodon_actor(icon="avatar.png" if avatar else None)
        ).encode()
    if avatar:
        files["avatar.png"] = PNG_1X1
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if layout == "zip":
        return write_zip(dest / f"{name}.zip", files)
    folder = dest / name
    folder.mkdir(parents=True, exist_ok=True)
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    return folder / "outbox.json" if layout == "outbox" else folder


# --- Tabular ----------------------------------------------------------------------------------


def sample_rows() -> list[dict]:
    """Six rows with the usual dump columns (Trump-archive style): original, entity, link,
    flagged retweet, unflagged ``RT @`` text, reply; dates in Twitter's format."""
    return [
        {
            "id_str": "11",
            "text": "Plain words written by me today",
            "created_at": "Wed Mar 18 21:48:42 +0000 2020",
            "is_retweet": False,
        },
        {
            "id_str": "12",
            "text": "Salt &amp; pepper on everything",
            "created_at": "Thu Mar 19 10:00:00 +0000 2020",
            "is_retweet": False,
        },
        {
            "id_str": "13",
            "text": "Read this now https://t.co/abc123",
            "created_at": "Fri Mar 20 10:00:00 +0000 2020",
            "is_retweet": False,
        },
        {
            "id_str": "14",
            "text": "A flagged retweet without the prefix",
            "created_at": "Sat Mar 21 10:00:00 +0000 2020",
            "is_retweet": True,
        },
        {
            "id_str": "15",
            "text": "RT @pal: unflagged retweet text",
            "created_at": "Sun Mar 22 10:00:00 +0000 2020",
            "is_retweet": False,
        },
        {
            "id_str": "16",
            "text": "@pal a reply to my pal",
            "created_at": "Mon Mar 23 10:00:00 +0000 2020",
            "is_retweet": False,
            "in_reply_to_user_id_str": "77",
        },
    ]


def write_csv(path: Path, rows: Iterable[dict], columns: Sequence[str] | None = None) -> Path:
    """CSV with a header; ``columns`` defaults to the union of keys in first-seen order.
    Booleans become ``true``/``false``; missing values are empty."""
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in columns])
    return path


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def write_json(path: Path, rows: list, wrapper: str | None = None) -> Path:
    """A JSON array file, or ``{wrapper: [...]}`` with wrapper "tweets" | "posts" | "data"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(rows if wrapper is None else {wrapper: rows}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def write_txt(path: Path, lines: Iterable[str]) -> Path:
    """Plain text, one post per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_year_folder(dest: Path, years: Sequence[int] = (2019, 2020), per_year: int = 3) -> Path:
    """A folder of one JSON array per year (like the Trump Twitter Archive dumps)."""
    folder = Path(dest) / "by-year"
    for y in years:
        rows = [
            {
                "id_str": f"{y}{i:04d}",
                "text": f"Post {i} of the year {y} with some words",
                "created_at": f"Mon Jan 0{i + 1} 10:00:00 +0000 {y}",
                "is_retweet": False,
            }
            for i in range(per_year)
        ]
        write_json(folder / f"{y}.json", rows)
    return folder


# --- Bad inputs -------------------------------------------------------------------------------

BAD_INPUTS = (
    "missing",  # path that does not exist
    "not-zip",  # .zip that is text
    "corrupt-zip",  # zip with damaged compressed data
    "zip-without-tweets",
    "empty-zip",
    "huge-declared-size",  # header says 3 GiB
    "bad-prefix",  # tweets.js not starting with window.YTD...
    "invalid-json",  # tweets.js with a syntax error (see INVALID_JSON_AT)
    "missing-field",  # a tweet without full_text
    "non-utf8",  # latin-1 byte in tweets.js
    "unknown-type",  # .docx
)


# The second tweet misses a ',' before "x": the error is at INVALID_JSON_AT (line, column), 1-based.
INVALID_JSON_JS = (
    b"window.YTD.tweets.part0 = [\n"
    b'  {"tweet" : {"id_str" : "1", "full_text" : "fine", '
    b'"created_at" : "Wed Mar 18 21:48:42 +0000 2020"}},\n'
    b'  {"tweet" : {"id_str" : "2", "full_text" : "broken" "x"}}\n'
    b"]\n"
)
INVALID_JSON_AT = (3, 54)


def write_bad_input(dest: Path, kind: str) -> Path:
    """Write one broken input (see ``BAD_INPUTS``) and return its path. Each must make
    ``open_source`` (or iterating its posts) raise one ``InputError``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    good_js = x_archive_files()["data/tweets.js"]
    if kind == "missing":
        return dest / "no-such-archive.zip"
    if kind == "not-zip":
        p = dest / "notazip.zip"
        p.write_text("this is not a zip file\n")
        return p
    if kind == "corrupt-zip":
        p = write_zip(dest / "corrupt.zip", {"data/tweets.js": good_js})
        raw = bytearray(p.read_bytes())
        data_start = 30 + len("data/tweets.js")  # local header + name: deflated data follows
        for i in range(data_start + 8, data_start + 48):
            raw[i] ^= 0x5A
        p.write_bytes(bytes(raw))
        return p
    if kind == "zip-without-tweets":
        return write_zip(
            dest / "notweets.zip",
            {"data/account.js": b"window.YTD.account.part0 = []", "readme.txt": b"hello"},
        )
    if kind == "empty-zip":
        return write_zip(dest / "empty.zip", {})
    if kind == "huge-declared-size":
        p = write_zip(dest / "huge.zip", {"data/tweets.js": good_js})
        return _patch_declared_size(p, 3 * 1024**3)
    if kind in ("bad-prefix", "invalid-json", "missing-field", "non-utf8"):
        folder = dest / kind / "data"
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / "tweets.js"
        if kind == "bad-prefix":
            p.write_bytes(b'var tweets = [{"tweet": {}}]\n')
        elif kind == "invalid-json":
            p.write_bytes(INVALID_JSON_JS)
        elif kind == "missing-field":
            t1 = x_tweet("1", "fine")
            t2 = x_tweet("2", "no text")
            del t2["tweet"]["full_text"]
            p.write_bytes(ytd("tweets", [t1, t2]).encode())
        else:
            p.write_bytes(good_js.replace(b"Good morning", b"Good m\xe9rning"))
        return p
    if kind == "unknown-type":
        p = dest / "posts.docx"
        p.write_bytes(b"PK\x03\x04 not really")
        return p
    raise ValueError(f"unknown bad input {kind!r}; one of {BAD_INPUTS}")


def _patch_declared_size(path: Path, size: int) -> Path:
    """Make the central directory claim ``size`` uncompressed bytes for the first member."""
    raw = bytearray(path.read_bytes())
    cd = raw.index(b"PK\x01\x02")
    raw[cd + 24 : cd + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    return path
