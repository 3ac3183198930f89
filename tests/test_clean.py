"""Cleaning rules, one by one, each switched on and off (pure: Posts built inline)."""

from __future__ import annotations

import dataclasses

import pytest

from tweettwin.errors import ConfigError
from tweettwin.ingest.clean import Cleaner, clean_text, count_words
from tweettwin.ingest.options import PrepareOptions
from tweettwin.ingest.posts import Post

DEFAULT = PrepareOptions()


def post(text: str, id: str = "1", **kw) -> Post:
    return Post(id=id, text=text, author=kw.pop("author", "me"), **kw)


def run(posts, **opts):
    cleaner = Cleaner(PrepareOptions(**opts))
    kept = [t for t in map(cleaner.feed, posts) if t is not None]
    return kept, cleaner.reports.get("me") or cleaner.totals()


def assert_invariant(rep):
    assert rep.kept + sum(rep.dropped().values()) == rep.downloaded


# --- text rules ---------------------------------------------------------------------------------


def test_entities_decoded_and_nfc_by_default_emoji_kept():
    text = "Fish &amp; chips &lt;3 &quot;yes&quot; &#39;ok&#39; &amp;amp; cafe\u0301 🌞🏖️"
    out = clean_text(text)
    assert out == "Fish & chips <3 \"yes\" 'ok' &amp; caf\u00e9 🌞🏖️"


def test_entities_kept_when_switched_off():
    opts = PrepareOptions(decode_entities=False)
    assert clean_text("a &amp; b cafe\u0301", opts) == "a &amp; b cafe\u0301"


@pytest.mark.parametrize(
    "text",
    [
        "see https://t.co/AbC123 now please",
        "see http://example.com/a?b=c now please",
        "see t.co/xyz now please",
        "see HTTPS://EXAMPLE.COM/X now please",
        "see pic.twitter.com/abc now please",
        "see www.example.org/page now please",
        "see https://t… now please",
    ],
)
def test_links_removed(text):
    assert clean_text(text) == "see now please"


def test_post_urls_removed_even_when_not_url_shaped():
    assert clean_text("hello odd-link-text world", urls=["odd-link-text"]) == "hello world"


def test_links_kept_when_switched_off():
    opts = PrepareOptions(remove_links=False)
    assert clean_text("see https://t.co/x now", opts) == "see https://t.co/x now"


def test_text_that_only_looks_like_a_domain_is_kept():
    assert (
        clean_text("microsoft.com and bit.com are words") == "microsoft.com and bit.com are words"
    )


def test_whitespace_and_newlines_collapse_by_default():
    assert clean_text("  one\t two\n\n\nthree \u00a0four\r\n") == "one two three four"


def test_keep_newlines_keeps_single_breaks_and_collapses_runs():
    opts = PrepareOptions(keep_newlines=True)
    assert (
        clean_text("line one  \n\n\n  line   two\r\nthree\n", opts) == "line one\nline two\nthree"
    )


def test_reply_leading_mentions_stripped_only_for_replies():
    assert clean_text("@a @b@host.social thanks, that works", is_reply=True) == "thanks, that works"
    assert clean_text("@a: thanks, that works", is_reply=True) == "thanks, that works"
    # a mention later in the text stays; so does ".@user" (a deliberate public mention)
    assert clean_text("@a I told @b already", is_reply=True) == "I told @b already"
    assert clean_text(".@a is right about this", is_reply=True) == ".@a is right about this"
    opts = PrepareOptions(strip_reply_mentions=False)
    assert clean_text("@a thanks a lot", opts, is_reply=True) == "@a thanks a lot"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("one two three", 3),
        ("@a #b https://t.co/x word", 1),
        ("hi — 😂 ok", 2),
        (".@someone nice one", 2),
        ("don't stop", 2),
        ("今日はいい天気です", 4),
        ("", 0),
    ],
)
def test_count_words(text, words):
    assert count_words(text) == words


# --- drop rules through Cleaner ---------------------------------------------------------------


def test_reposts_dropped_by_flag_or_rt_text_and_counted():
    posts = [
        post("a normal post with words", "1"),
        post("boosted text by someone else", "2", is_repost=True),
        post("RT @pal: their words here", "3"),
        post("RT &#64;pal: escaped words here", "4"),  # "RT @" only after decoding
    ]
    kept, rep = run(posts)
    assert kept == ["a normal post with words"]
    assert (rep.retweets, rep.dropped()["retweets"]) == (3, 3)
    assert_invariant(rep)
    kept, rep = run(posts, drop_reposts=False)
    assert len(kept) == 4 and rep.retweets == 3 and rep.dropped()["retweets"] == 0
    assert_invariant(rep)


def test_replies_kept_with_mentions_stripped_or_dropped():
    posts = [
        post("@pal @other I agree with you both", "1", is_reply=True),
        post("@pal unflagged leading mention counts too", "2"),
        post("my own words without a reply", "3"),
    ]
    kept, rep = run(posts)
    assert kept == [
        "I agree with you both",
        "unflagged leading mention counts too",
        "my own words without a reply",
    ]
    assert rep.replies == 2 and rep.dropped()["replies"] == 0
    kept, rep = run(posts, drop_replies=True)
    assert kept == ["my own words without a reply"]
    assert rep.replies == 2 and rep.dropped()["replies"] == 2
    assert_invariant(rep)


def test_private_posts_never_kept_whatever_the_options():
    posts = [
        post("a secret followers only post", "1", private=True),
        post("public words for all", "2"),
    ]
    for opts in ({}, {"drop_reposts": False, "min_words": 0, "drop_duplicates": False}):
        kept, rep = run(posts, **opts)
        assert kept == ["public words for all"]
        assert rep.excluded_private == 1
        assert_invariant(rep)


def test_short_posts_dropped_by_min_words():
    posts = [
        post("just two", "1"),
        post("https://t.co/only", "2", urls=["https://t.co/only"]),
        post("#tag @a three real words", "3"),
        post("     ", "4"),
    ]
    kept, rep = run(posts)
    assert kept == ["#tag @a three real words"] and rep.short == 3
    kept, rep = run(posts, min_words=1)
    assert kept == ["just two", "#tag @a three real words"] and rep.short == 2
    # min_words=0 keeps short posts, but an empty post is never kept
    kept, rep = run(posts, min_words=0)
    assert len(kept) == 2 and rep.short == 2
    assert_invariant(rep)


def test_duplicates_after_cleaning_dropped_per_author():
    posts = [
        post("the very same words", "1"),
        post("the  very same words https://t.co/x", "2"),
        post("the very same words", "3", author="you"),
        post("The very same words", "4"),  # case differs: not a duplicate
    ]
    cleaner = Cleaner(DEFAULT)
    kept = [t for t in map(cleaner.feed, posts) if t is not None]
    assert len(kept) == 3
    assert cleaner.reports["me"].duplicates == 1 and cleaner.reports["you"].duplicates == 0
    kept, rep = run(posts[:2], drop_duplicates=False)
    assert len(kept) == 2 and rep.duplicates == 0


def test_every_post_lands_in_exactly_one_bucket():
    posts = [
        post("private words go nowhere", "1", private=True, is_repost=True),
        post("RT @x: retweeted words here", "2"),
        post("@x a reply with words", "3", is_reply=True),
        post("tiny", "4"),
        post("kept words right here", "5"),
        post("kept words right here", "6"),
    ]
    for drop_replies in (False, True):
        _, rep = run(posts, drop_replies=drop_replies)
        assert rep.downloaded == 6
        assert_invariant(rep)
        assert rep.to_dict()["dropped"] == rep.dropped()


def test_options_validate():
    with pytest.raises(ConfigError):
        PrepareOptions(split="random")
    with pytest.raises(ConfigError):
        PrepareOptions(validation_fraction=1.5)
    with pytest.raises(ConfigError):
        PrepareOptions(min_words=-1)
    assert "hashtags" in PrepareOptions.help("min_words")
    assert dataclasses.asdict(DEFAULT)["keep_newlines"] is False


def test_report_counts_kept_posts_per_language():
    cleaner = Cleaner()
    posts = [
        Post("1", "hola a todos los amigos", "ana", lang="es"),
        Post("2", "buenos días a todos hoy", "ana", lang="es"),
        Post("3", "good morning everyone here", "ana", lang="en"),
        Post("4", "RT @x: not mine at all", "ana", lang="fr"),  # dropped: not counted
    ]
    for p in posts:
        cleaner.feed(p)
    assert cleaner.reports["ana"].to_dict()["languages"] == {"es": 2, "en": 1}
