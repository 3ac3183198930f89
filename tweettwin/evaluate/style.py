"""Style features of posts: lengths, and how often posts use hashtags, mentions, emoji, questions,
exclamations, all-lowercase text and capitalised starts (pure Python, no numpy needed).

    features = post_features("Just shipped it! #release")   # {'words': 3.0, 'hashtag': 1.0, ...}
    style_report(real_texts, generated_texts)               # rates and top words side by side
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from statistics import mean, median

_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<!\w)@\w+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U0001f1e6-\U0001f1ff]"
)
# Rates compared between real and generated posts: name -> (label, test on one post).
RATES = {
    "hashtag": "has a #hashtag",
    "mention": "has an @mention",
    "emoji": "has an emoji",
    "question": "asks a question (?)",
    "exclamation": "exclaims (!)",
    "lowercase": "all lowercase",
    "capitalised": "starts with a capital",
}
LENGTHS = ("words", "chars")
FEATURES = LENGTHS + tuple(RATES)
# Common function words of the languages in our archives, left out of the "top words" tables.
STOPWORDS = frozenset(
    """a an the and or but if of to in on at for with from by as is are was were be been am it
    its this that these those i me my we our you your he she they them his her their so not no
    do does did have has had will would can could just than then there here what when how all
    about out up also im it's i'm don't de la el en y que los las un una es por con para del al
    lo se no der die das und ist ich nicht mit ein eine zu den von auf für""".split()
)


def post_features(text: str) -> dict[str, float]:
    """The style features of one post, as numbers (lengths in words and characters, 0/1 flags)."""
    words = text.split()
    letters = [c for c in text if c.isalpha()]
    first = letters[0] if letters else ""
    return {
        "words": float(len(words)),
        "chars": float(len(text)),
        "hashtag": float(bool(_HASHTAG.search(text))),
        "mention": float(bool(_MENTION.search(text))),
        "emoji": float(bool(_EMOJI.search(text))),
        "question": float("?" in text),
        "exclamation": float("!" in text),
        "lowercase": float(bool(letters) and text == text.lower()),
        "capitalised": float(first.isupper()),
    }


def feature_rows(texts: Sequence[str]) -> list[list[float]]:
    """One row of :data:`FEATURES` per post (the style part of the classifier's input)."""
    return [[f[name] for name in FEATURES] for f in map(post_features, texts)]


def _lengths(values: list[float]) -> dict:
    values = values or [0.0]
    ordered = sorted(values)
    return {
        "mean": round(mean(values), 2),
        "median": median(values),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "max": ordered[-1],
    }


def top_words(texts: Sequence[str], k: int = 15) -> list[tuple[str, int]]:
    """The ``k`` commonest words (lowercased, function words, mentions and hashtags left out)."""
    counts: Counter[str] = Counter()
    for text in texts:
        plain = _MENTION.sub(" ", _HASHTAG.sub(" ", text))
        counts.update(w for w in (m.lower() for m in _WORD.findall(plain)) if w not in STOPWORDS)
    return counts.most_common(k)


def top_hashtags(texts: Sequence[str], k: int = 10) -> list[tuple[str, int]]:
    counts = Counter(tag.lower() for text in texts for tag in _HASHTAG.findall(text))
    return counts.most_common(k)


def style_report(real: Sequence[str], generated: Sequence[str]) -> dict:
    """Real vs generated: length summaries, each rate side by side, top words and hashtags.

    ``rate_gap`` is the mean absolute difference of the rates (0 = same habits).
    """
    feats = {
        "real": [post_features(t) for t in real],
        "generated": [post_features(t) for t in generated],
    }
    out: dict = {"lengths": {}, "rates": {}, "values": {}}
    for name in LENGTHS:
        out["values"][name] = {side: [int(f[name]) for f in rows] for side, rows in feats.items()}
        out["lengths"][name] = {
            side: _lengths([f[name] for f in rows]) for side, rows in feats.items()
        }
    for name, label in RATES.items():
        rates = {
            side: round(mean(f[name] for f in rows), 4) if rows else 0.0
            for side, rows in feats.items()
        }
        out["rates"][name] = {"label": label, **rates}
    gaps = [abs(r["real"] - r["generated"]) for r in out["rates"].values()]
    out["rate_gap"] = round(mean(gaps), 4)
    out["top_words"] = {"real": top_words(real), "generated": top_words(generated)}
    out["top_hashtags"] = {"real": top_hashtags(real), "generated": top_hashtags(generated)}
    return out
