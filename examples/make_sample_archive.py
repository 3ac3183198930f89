"""Write examples/sample-archive.zip: a FICTIONAL account in the real X archive layout.

Odile Brackwater (@odile_bakes) does not exist. She runs the early shift at the Crooked Loaf, a
bakery in the made-up town of Fernhollow, rides her bike up Marrow Hill, feeds a sourdough starter
called Gerald and a cat called Biscuit, and writes almost everything in lowercase. Every post is
generated here from a fixed seed, so the zip is byte-for-byte reproducible:

    python examples/make_sample_archive.py            # rewrites examples/sample-archive.zip
    python examples/make_sample_archive.py --check    # exit 1 if the committed zip differs

The layout follows a real export (see shared/data/SOURCES.md section 1): ``data/tweets.js`` as
``window.YTD.tweets.part0 = [{"tweet": {...}}]`` with every number a string, HTML-escaped
``full_text``, t.co links with ``entities.urls[].expanded_url``, replies with ``in_reply_to_*``
and leading @mentions, ``RT @user: ...`` retweets, short posts, a couple of duplicates, one long
post cut at ~275 characters whose full text is in ``data/note-tweet.js``, plus ``account.js``,
``profile.js``, ``manifest.js`` and a generated avatar under ``data/profile_media/``.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import io
import json
import random
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).resolve().parent / "sample-archive.zip"
SEED = 20240611
HANDLE, NAME, ACCOUNT_ID = "odile_bakes", "Odile Brackwater", "1180000000000000042"
GENERATED = datetime(2024, 11, 2, 9, 14, 50, 313000, tzinfo=timezone.utc)
START = datetime(2021, 3, 1, tzinfo=timezone.utc)
TWITTER_EPOCH_MS = 1288834974657
AVATAR = f"{ACCOUNT_ID}-k3Qx8.png"
SOURCE = '<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>'

FRIENDS = [
    "pim_on_pastry",
    "fernwheelers",
    "sallowsidecafe",
    "marrowhillkom",
    "juno_grinds",
    "fernhollowmarket",
    "tobias_mills",
    "rye_and_shine",
]
FRIEND_IDS = {h: str(1190000000000000000 + 7919 * i) for i, h in enumerate(FRIENDS)}

# ---------------------------------------------------------------------------------- the voice

TIMES = ["4am", "4.10am", "3.50am", "4.20am", "5am", "half four", "quarter to four"]
OVENS = ["warm", "finally hot", "sulking", "roaring", "ticking", "being dramatic", "behaving"]
BAKES = [
    "two trays of cinnamon knots",
    "forty country loaves",
    "the rye that nobody orders but everybody eats",
    "a batch of seeded batards",
    "focaccia with the last of the rosemary",
    "sixty croissants",
    "the olive loaves",
    "three racks of baps",
    "pain de mie for the cafe",
    "a very brave brioche",
    "the spelt loaves",
    "too many morning buns",
    "walnut and honey rolls",
    "fig and fennel loaves",
]
SIGNS = [
    "onward 🍞",
    "🍞",
    "back to it.",
    "coffee now.",
    "4am club, checking in.",
    "crumb report later.",
    "",
    "",
    "",
    "bread is patience.",
    "the ovens win again.",
    "🥐",
]
GERALD = [
    "gerald is bubbling like he has opinions",
    "gerald smells of green apples today",
    "gerald doubled in four hours, show-off",
    "gerald looked flat and then forgave me",
    "gerald got fed rye and is very pleased with himself",
    "gerald tried to escape his jar overnight",
    "gerald is sluggish, it is cold in the back room",
    "gerald is eleven years old this spring",
]
GERALD_AFTER = [
    "",
    "i am told this is normal.",
    "we are not the same.",
    "proud of him honestly.",
    "he is the real head baker.",
    "someone give him a raise.",
    "i fed him extra.",
]
HILLS = [
    "marrow hill",
    "the old quarry road",
    "sallow lane",
    "the long drag out of fernhollow",
    "the ridge above the mill",
    "the back road to upper marrow",
]
RIDE = [
    "legs empty, lungs full",
    "headwind the whole way",
    "a hare raced me and won",
    "the mist sat in the valley like proving dough",
    "new personal best by eleven seconds",
    "stopped halfway to look at the sheep",
    "my chain complained the whole way",
    "it was raining sideways",
    "pim dropped me on the last bend",
    "granny gear and no shame",
]
RIDE_END = [
    "🚲",
    "worth it.",
    "marrow hill: 1, me: 0.",
    "marrow hill: 0, me: 1. finally.",
    "bread tastes better after a climb.",
    "",
    "back in time for the second bake.",
]
WEATHER = [
    "rain in fernhollow again",
    "fog so thick the church vanished",
    "first frost on the market square",
    "sun on the sallow for once",
    "wind trying to take the shop sign",
    "grey and drizzly, perfect proving weather",
    "properly hot in the bakery today",
    "snow on marrow hill",
]
WEATHER_AFTER = [
    "the dough loves it.",
    "the dough hates it.",
    "biscuit refuses to go outside.",
    "everyone wants soup and bread.",
    "the queue is still out the door.",
    "my hair has given up.",
]
SHOP = [
    "a small boy asked if the croissants were alive",
    "regular ordered 'the usual' and i panicked",
    "someone paid for the next customer's loaf",
    "sold out of rye by nine",
    "a man asked for gluten free sourdough with extra gluten",
    "the cafe took every last focaccia",
    "a dog waited outside with perfect manners for his biscuit",
    "the till jammed and we did sums by hand",
    "someone asked what the crooked loaf is crooked about",
    "a tourist photographed the bread for ten minutes",
]
SHOP_AFTER = [
    "love this town.",
    "fernhollow, never change.",
    "honestly the best part of the job.",
    "i need a nap.",
    "we laughed for an hour.",
    "",
    "writing that one down.",
]
BISCUIT = [
    "biscuit has claimed the flour sack again",
    "biscuit knocked the timer off the shelf at 3am",
    "biscuit sat on my cycling jersey so i could not leave",
    "biscuit is judging my lamination",
    "biscuit caught a moth and brought it to bed",
    "biscuit only respects the oven",
]
MARKET = [
    "saturday market stall is up",
    "market day, sold out of knots by ten",
    "rained on the market but people came",
    "new stall neighbours sell cheese, this is dangerous",
    "market crowd wanted the olive loaf",
]
WHEN = [
    "this morning",
    "before the market",
    "between the rye and the croissants",
    "at 3am",
    "on my day off",
    "while the ovens warmed up",
    "after the second bake",
    "on the way up marrow hill",
    "all week",
    "during the lunch rush",
    "just now",
    "again",
]
THOUGHTS = [
    "the best bread is the one somebody shares",
    "you cannot rush a loaf or a hill",
    "every bake is a small argument with the weather",
    "flour on everything is a lifestyle",
    "proving dough teaches you to wait",
    "the town smells of bread at five and that is my fault",
    "most of baking is cleaning up",
    "a good crust sings when it cools",
]

LINKS = [
    (
        "wrote down the seeded batard recipe, finally",
        "https://crookedloaf.example/recipes/seeded-batard",
    ),
    ("the ride up marrow hill this morning", "https://strava.example/activities/marrow-hill"),
    ("our winter opening hours are up", "https://crookedloaf.example/hours"),
    (
        "lovely piece about small bakeries in the valley",
        "https://fernhollow-gazette.example/bakeries",
    ),
    ("gerald has a page now. yes really", "https://crookedloaf.example/gerald"),
    ("fernhollow wheelers spring route", "https://fernwheelers.example/routes/spring"),
]

HANDWRITTEN = [
    "you know it is a good morning when the first loaf out of the oven crackles before you even touch it",
    "made a loaf shaped like marrow hill. it collapsed. very accurate",
    "people ask when i sleep. the answer is between the rye and the croissants",
    "pim says my focaccia dimples are too aggressive. pim is wrong",
    "there is flour in my helmet and i have no idea how",
    "new rule at the crooked loaf: if you say 'carbs' in a scary voice you pay double",
    "bought a new bread knife and now i am unstoppable",
    "the sallow is high today. the ducks look smug",
    "rode to upper marrow for eggs. came back with eggs, mud and a story about a goat",
    "biscuit and gerald are the only ones who understand me",
    "honestly the croissant lamination today was the best i have ever done and nobody will ever know",
    "first market of the year and my fingers are frozen to the cash tin",
    "someone left a thank you note under the door. i am not crying, it is the flour",
    "rye is just bread that went to university",
    "the church bells and the oven timer went off together. felt like a sign",
    "trying a new hydration on the country loaf. 78 percent. pray for me",
    "the hill does not get easier. i just get more stubborn",
    "bakery radio is playing folk songs about the sea and we are all very emotional",
    "if you see a woman in a flour covered jersey cycling past the mill, say hello",
    "today's special is whatever survived biscuit",
    "the bread was late because the rain was early",
    "every single regular asked about gerald today. he is more famous than me",
    "knots, loaves, coffee, hill, nap. the perfect day has five parts",
    "i do not trust a bakery that does not smell of burnt sugar at least a little",
    "sourdough is a pet that pays rent",
    "cleaned the ovens for three hours. they look exactly the same",
    "the first proper spring ride. the hedges are full of birds and my legs are full of cake",
    "pim brought a new rolling pin and named it. we are a normal business",
    "a day off. i baked bread at home anyway. help",
    "thinking about how the whole town wakes up to our smell. lovely responsibility",
]

REPLIES = [
    "yes! the rye is back on thursday, i promise",
    "that is the kindest thing anyone has said about my crust",
    "see you at the bottom of marrow hill at seven",
    "save me a coffee, i will trade you a cinnamon knot",
    "ha, gerald says thank you",
    "we open at seven but knock if you see the lights on",
    "i will bring the spare inner tube this time, sorry",
    "the secret is patience and a very cold fridge",
    "sold out, sorry! come early on saturday",
    "honestly the hill won today, no shame",
    "biscuit sends a slow blink",
    "absolutely, bring the kids, they can shape rolls",
    "that loaf looks great, the crumb is so open",
    "it is 78 percent hydration and a lot of swearing",
    "we will have the fig loaves at the market",
]
RETWEETED = [
    (
        "fernwheelers",
        "sunday club ride leaves the market square at 8. all paces welcome, cake stop guaranteed",
    ),
    ("fernhollowmarket", "saturday stalls: bread, cheese, honey, and the return of the pickle man"),
    (
        "sallowsidecafe",
        "our toast is made with bread from the crooked loaf and we will not be taking questions",
    ),
    ("pim_on_pastry", "lamination day. send help and butter"),
    ("juno_grinds", "new beans from the coast this week, pairs very well with a cinnamon knot"),
    (
        "marrowhillkom",
        "the fastest climb of the month goes to someone who stops for sheep apparently",
    ),
    ("rye_and_shine", "every rye loaf is a small miracle of stubbornness"),
]
SHORT = ["4am.", "rain.", "🍞", "up.", "ovens on", "hill.", "biscuit."]
NOTE = (
    "a long one, because people keep asking how the crooked loaf started. my gran baked for the whole "
    "street in a tiny oven behind the fish shop, and when it closed she gave me gerald in a jam jar and "
    "said 'feed him and he will feed you'. eleven years later he is still going, i am still tired, and "
    "fernhollow still queues in the rain for bread at seven. thank you for every loaf you have carried "
    "home, every 'the usual please', every wave from the market square. the ovens go on at four tomorrow. "
    "see you there & bring a bag."
)


def _pick(rng: random.Random, options: list[str]) -> str:
    return options[rng.randrange(len(options))]


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p).strip()


def composed(rng: random.Random) -> str:
    """One post from the voice's building blocks (short pieces, many combinations)."""
    kind = rng.choice(
        [
            "bake",
            "bake",
            "gerald",
            "ride",
            "ride",
            "weather",
            "shop",
            "shop",
            "biscuit",
            "market",
            "thought",
        ]
    )
    if kind == "bake":
        return _join(
            f"{_pick(rng, TIMES)} and the ovens are {_pick(rng, OVENS)}.",
            f"today: {_pick(rng, BAKES)} and {_pick(rng, BAKES)}.",
            _pick(rng, SIGNS),
        )
    if kind == "gerald":
        return _join(
            f"{_pick(rng, GERALD)} {_pick(rng, WHEN)}.",
            _pick(rng, GERALD_AFTER),
            _pick(rng, SIGNS[:4]),
        )
    if kind == "ride":
        km = rng.randrange(18, 65)
        return _join(
            f"{km}km before the second bake, up {_pick(rng, HILLS)}.",
            f"{_pick(rng, RIDE)}.",
            _pick(rng, RIDE_END),
        )
    if kind == "weather":
        return _join(
            f"{_pick(rng, WEATHER)} {_pick(rng, WHEN)}.",
            _pick(rng, WEATHER_AFTER),
            _pick(rng, SIGNS),
        )
    if kind == "shop":
        return _join(
            f"{_pick(rng, WHEN)} at the counter {_pick(rng, SHOP)}.", _pick(rng, SHOP_AFTER)
        )
    if kind == "biscuit":
        return _join(
            f"{_pick(rng, BISCUIT)} {_pick(rng, WHEN)}.",
            _pick(
                rng,
                ["", "typical.", "she is in charge here.", "🐈", "i have no rights in this house."],
            ),
        )
    if kind == "market":
        return _join(
            f"{_pick(rng, MARKET)}.",
            f"bring a bag, we have {_pick(rng, BAKES)}.",
            _pick(rng, SIGNS),
        )
    return _join(
        f"thought {_pick(rng, WHEN)}: {_pick(rng, THOUGHTS)}.",
        _pick(rng, ["", "that is the whole thought.", "anyway.", "🍞", "back to the dough."]),
    )


# ------------------------------------------------------------------------------ tweet records


def _tco(rng: random.Random) -> str:
    return "https://t.co/" + "".join(
        rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10)
    )


def _snowflake(when: datetime, seq: int) -> str:
    ms = int(when.timestamp() * 1000)
    return str(((ms - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF))


def _tweet(when: datetime, seq: int, text: str, *, urls=(), mentions=(), reply_to=None) -> dict:
    """A tweets.js record: strings for numbers, HTML-escaped text, entities with string indices."""
    tid = _snowflake(when, seq)
    full_text = html.escape(text, quote=False)
    ents_urls = []
    for url, expanded in urls:
        start = full_text.index(url)
        ents_urls.append(
            {
                "url": url,
                "expanded_url": expanded,
                "display_url": expanded.split("//", 1)[1][:26]
                + ("…" if len(expanded) > 34 else ""),
                "indices": [str(start), str(start + len(url))],
            }
        )
    ents_mentions = []
    for handle in mentions:
        start = full_text.index("@" + handle)
        ents_mentions.append(
            {
                "name": handle.replace("_", " ").title(),
                "screen_name": handle,
                "indices": [str(start), str(start + len(handle) + 1)],
                "id_str": FRIEND_IDS[handle],
                "id": FRIEND_IDS[handle],
            }
        )
    t = {
        "edit_info": {
            "initial": {
                "editTweetIds": [tid],
                "editableUntil": (when + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "editsRemaining": "5",
                "isEditEligible": True,
            }
        },
        "retweeted": False,
        "source": SOURCE,
        "entities": {
            "hashtags": [],
            "symbols": [],
            "user_mentions": ents_mentions,
            "urls": ents_urls,
        },
        "display_text_range": ["0", str(len(text))],
        "favorite_count": str(seq * 7 % 23),
        "id_str": tid,
        "truncated": False,
        "retweet_count": str(seq * 3 % 5),
        "id": tid,
        "created_at": when.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "favorited": False,
        "full_text": full_text,
        "lang": "zxx" if len(text) < 4 else "en",
    }
    if reply_to:
        handle, status = reply_to
        t.update(
            {
                "in_reply_to_status_id_str": status,
                "in_reply_to_status_id": status,
                "in_reply_to_user_id": FRIEND_IDS[handle],
                "in_reply_to_user_id_str": FRIEND_IDS[handle],
                "in_reply_to_screen_name": handle,
            }
        )
    return t


def build_posts(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """(tweets, note tweets), newest first like a real export."""
    texts: list[tuple[str, dict]] = [(composed(rng), {}) for _ in range(440)]
    texts += [(t, {}) for t in HANDWRITTEN]
    for text in REPLIES * 3:
        who = rng.sample(FRIENDS, rng.choice([1, 1, 1, 2]))
        text = _join(
            text, _pick(rng, ["", "", "🍞", "thank you!", "see you soon.", "x", "honestly."])
        )
        texts.append(
            (
                " ".join("@" + h for h in who) + " " + text,
                {
                    "mentions": who,
                    "reply": (who[0], str(1200000000000000000 + rng.randrange(10**15))),
                },
            )
        )
    for who, text in RETWEETED * 2:
        texts.append((f"RT @{who}: {text}", {"mentions": [who]}))
    for text, url in LINKS:
        texts.append((text, {"link": url}))
    texts += [(t, {}) for t in SHORT]
    texts += [("morning bake done. onward 🍞", {})] * 3  # an exact duplicate (kept once by prepare)
    texts.append(("bread & butter > everything. fight me", {}))  # escaped as &amp; and &gt;
    rng.shuffle(texts)
    texts.append((NOTE, {"note": True}))  # the newest post: the long one

    span = (GENERATED - timedelta(days=5) - START).total_seconds()
    whens = sorted(START + timedelta(seconds=rng.uniform(0, span)) for _ in texts)
    tweets, notes = [], []
    for seq, ((text, meta), when) in enumerate(zip(texts, whens)):
        when = when.replace(microsecond=0)
        if "link" in meta:
            url = _tco(rng)
            tweets.append(_tweet(when, seq, f"{text} {url}", urls=[(url, meta["link"])]))
        elif meta.get("note"):
            url = _tco(rng)
            cut = text[:272].rsplit(" ", 1)[0]
            tweets.append(
                _tweet(
                    when,
                    seq,
                    f"{cut}… {url}",
                    urls=[(url, f"https://twitter.com/i/web/status/{_snowflake(when, seq)}")],
                )
            )
            notes.append(
                {
                    "noteTweet": {
                        "noteTweetId": _snowflake(when, seq + 9999),
                        "updatedAt": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "lifecycle": {
                            "value": "1",
                            "name": "Active",
                            "originalName": "Active",
                            "annotations": {},
                        },
                        "createdAt": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "core": {
                            "styletags": [],
                            "urls": [],
                            "text": text,
                            "mentions": [],
                            "cashtags": [],
                            "hashtags": [],
                        },
                    }
                }
            )
        else:
            tweets.append(
                _tweet(
                    when, seq, text, mentions=meta.get("mentions", ()), reply_to=meta.get("reply")
                )
            )
    return [{"tweet": t} for t in reversed(tweets)], notes


# --------------------------------------------------------------------------------- the files


def _ytd(name: str, rows) -> bytes:
    # the export's own style: "key" : value, two-space indents, no trailing semicolon
    body = json.dumps(rows, indent=2, ensure_ascii=False).replace('": ', '" : ')
    return f"window.YTD.{name}.part0 = {body}".encode()


def avatar_png() -> bytes:
    """A 96x96 loaf-on-a-circle avatar, drawn here (deterministic PNG bytes)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (96, 96), (244, 228, 196))
    d = ImageDraw.Draw(img)
    d.ellipse((6, 6, 90, 90), fill=(196, 120, 62))
    d.ellipse((18, 30, 78, 74), fill=(236, 178, 102))
    for x in (32, 46, 60):
        d.line((x, 40, x + 8, 62), fill=(170, 98, 44), width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def archive_members() -> dict[str, bytes]:
    rng = random.Random(SEED)
    tweets, notes = build_posts(rng)
    account = [
        {
            "account": {
                "email": None,
                "createdVia": "web",
                "username": HANDLE,
                "accountId": ACCOUNT_ID,
                "createdAt": "2019-09-14T06:02:11.000Z",
                "accountDisplayName": NAME,
            }
        }
    ]
    profile = [
        {
            "profile": {
                "description": {
                    "bio": "early shift at the crooked loaf in fernhollow 🍞 sourdough, marrow hill, a cat called biscuit. "
                    "(fictional account, made up for the tweettwin demo)",
                    "website": "https://crookedloaf.example",
                    "location": "Fernhollow",
                },
                "avatarMediaUrl": f"./data/profile_media/{AVATAR}",
            }
        }
    ]

    def files(name, glob, count):
        return {
            "files": [
                {
                    "fileName": f"data/{name}.js",
                    "globalName": f"YTD.{glob}.part0",
                    "count": str(count),
                }
            ]
        }

    members = {
        "data/account.js": _ytd("account", account),
        "data/note-tweet.js": _ytd("note_tweet", notes),
        "data/profile.js": _ytd("profile", profile),
        "data/tweets.js": _ytd("tweets", tweets),
        f"data/profile_media/{AVATAR}": avatar_png(),
    }
    manifest = {
        "userInfo": {"accountId": ACCOUNT_ID, "userName": HANDLE, "displayName": NAME},
        "archiveInfo": {
            "sizeBytes": str(sum(map(len, members.values()))),
            "generationDate": GENERATED.strftime("%Y-%m-%dT%H:%M:%S.") + "313Z",
            "isPartialArchive": False,
            "maxPartSizeBytes": "53687091200",
        },
        "readmeInfo": {"fileName": "data/README.txt", "directory": "data/", "name": "README.txt"},
        "dataTypes": {
            "account": files("account", "account", 1),
            "noteTweet": files("note-tweet", "note_tweet", len(notes)),
            "profile": {**files("profile", "profile", 1), "mediaDirectory": "data/profile_media"},
            "tweets": {
                **files("tweets", "tweets", len(tweets)),
                "mediaDirectory": "data/tweets_media",
            },
        },
    }
    body = json.dumps(manifest, indent=2, ensure_ascii=False).replace('": ', '" : ')
    members["data/manifest.js"] = f"window.__THAR_CONFIG = {body}".encode()
    members["data/README.txt"] = (
        b"A FICTIONAL X/Twitter archive written by tweettwin's examples/make_sample_archive.py.\n"
        b"Odile Brackwater, @odile_bakes, the Crooked Loaf and Fernhollow are made up.\n"
    )
    return dict(sorted(members.items()))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """Zip with fixed order, timestamps (the export's generationDate) and permissions."""
    buf = io.BytesIO()
    stamp = GENERATED.timetuple()[:6]  # zip times have 2 s resolution: GENERATED is even
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    parser.add_argument(
        "--check", action="store_true", help="compare with the existing file instead of writing"
    )
    args = parser.parse_args(argv)
    data = zip_bytes(archive_members())
    if args.check:
        same = args.output.is_file() and args.output.read_bytes() == data
        print(f"{args.output}: {'up to date' if same else 'DIFFERS; rerun without --check'}")
        return 0 if same else 1
    args.output.write_bytes(data)
    print(
        f"wrote {args.output} ({len(data) / 1024:.0f} KiB, sha256 {hashlib.sha256(data).hexdigest()[:12]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
