"""One archive tweet (a plain JSON object) -> ``Post``: the exact rules.

The exact parser's entries come here; ``x_archive_fast`` applies the same rules to its structs,
and falls back to the helpers here for odd shapes.
"""

from __future__ import annotations

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Post
from tweettwin.ingest.sources.dates import twitter_date_iso
from tweettwin.ingest.sources.x_archive_meta import _TODO, KIND, _dict, _match_note


def _last_edit(t: dict) -> str | None:
    """The id of the newest version of an edited post (None when not superseded); any odd
    shape of ``edit_info`` counts as "not edited" rather than stopping the import."""
    info = _dict(t.get("edit_info"))
    ctl = _dict(info.get("initial")) or _dict(_dict(info.get("edit")).get("editControlInitial"))
    ids = ctl.get("editTweetIds")
    if not isinstance(ids, list) or len(ids) < 2 or not isinstance(ids[-1], (str, int)):
        return None
    return str(ids[-1])


def _urls_of(ents) -> list[str]:
    if not isinstance(ents, dict):
        return []
    urls = [u for u in _url_strings(ents.get("urls"))]
    return urls + [m for m in _url_strings(ents.get("media")) if m not in urls]


def _url_strings(items) -> list[str]:
    """``[{"url": "https://t.co/..."}]`` -> the url strings (anything else is ignored)."""
    if not isinstance(items, list):
        return []
    return [
        u["url"]
        for u in items
        if isinstance(u, dict) and isinstance(u.get("url"), str) and u["url"]
    ]


def _post(t: dict, handle: str, notes: dict, where: str, i: int) -> Post:
    tid = t.get("id_str") or t.get("id")
    text = t.get("full_text")
    if text is None:
        text = t.get("text")
    if not tid or not isinstance(text, str):
        field = "id_str" if not tid else "full_text"
        raise InputError(f"{where}: entry {i} (tweet {tid or '?'}) has no '{field}' field; {_TODO}")
    created = t.get("created_at")
    created = twitter_date_iso(created) if isinstance(created, str) and created else None
    urls = _urls_of(t.get("entities") or {})
    if notes and created:
        hit = _match_note(text, created, notes)
        if hit:
            text, note_urls = hit
            urls += note_urls
    return Post(
        id=str(tid),
        text=text,
        author=handle,
        created_at=created,
        source=KIND,
        is_repost=text.startswith("RT @"),
        is_reply=bool(
            t.get("in_reply_to_status_id_str")
            or t.get("in_reply_to_status_id")
            or t.get("in_reply_to_user_id_str")
            or t.get("in_reply_to_user_id")
        ),
        lang=t.get("lang") if isinstance(t.get("lang"), str) else None,
        urls=urls,
    )
