"""A folder written by ``tweettwin fetch`` -> Posts, so ``prepare`` reads it like an archive.

The folder holds the platform's own objects (see ``tweettwin.ingest.fetch.store``); this module only
reports facts in ``Post`` fields and leaves every judgement (reposts, replies, links, short
posts, duplicates) to cleaning:

* Mastodon status: HTML ``content`` -> text (the archive reader's converter); a boost
  (``reblog``) is a repost with no text of its own; ``in_reply_to_id`` -> reply; ``private`` /
  ``direct`` visibility -> private.
* Bluesky feed item: ``record.text`` with link facets cut out by their UTF-8 *byte* range (the
  visible link text may be shortened, so a URL regex would miss it); a repost reason, or a post
  by someone else, -> repost; ``record.reply`` -> reply.
* X post: ``note_tweet.text`` when present (long posts), else ``text``;
  ``referenced_tweets`` type ``retweeted`` -> repost, ``replied_to`` -> reply; t.co links -> urls.

``open_fetch_spec`` serves ``prepare mastodon:@user@host``: fetch (or resume/update) into the
workspace, then read the folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from tweettwin.errors import InputError
from tweettwin.ingest.fetch.store import ITEMS, MANIFEST, is_fetch_folder, iter_items, read_manifest
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.sources import SCHEMES, SourceData, clean_handle
from tweettwin.ingest.sources.dates import parse_date
from tweettwin.ingest.sources.mastodon_archive import MAX_HTML_CHARS, html_to_text

KIND = "fetched"
_LINK = "app.bsky.richtext.facet#link"
_REPOST = "app.bsky.feed.defs#reasonRepost"
_SPACES = re.compile(r"[ \t]{2,}")

__all__ = ["KIND", "is_fetch_folder", "open_fetch_spec", "read_fetched", "strip_link_facets"]


def read_fetched(
    path: str | os.PathLike, spec: str | None = None, author: str | None = None
) -> SourceData:
    """The posts of a fetched folder (any platform), oldest first whatever order they were
    fetched in, so a resumed fetch and a one-shot fetch give the same dataset."""
    folder = Path(path)
    manifest = read_manifest(folder)
    account = manifest.get("account") or {}
    handle = clean_handle(author) or clean_handle(account.get("handle"))
    if not handle:
        raise InputError(f"{folder / MANIFEST}: field 'account.handle' is missing; fetch again")
    platform = manifest.get("platform")
    convert = {"mastodon": mastodon_post, "bluesky": bluesky_post, "x": x_post}.get(platform)
    if convert is None:
        raise InputError(
            f"{folder / MANIFEST}: unknown platform {platform!r} (expected mastodon, bluesky or x)"
        )
    own_id = str(account.get("id") or "")

    items_file = folder / manifest.get("items_file", ITEMS)

    def posts() -> Iterator[Post]:
        by_id: dict[str, Post] = {}
        for n, item in enumerate(iter_items(folder, manifest), 1):
            try:
                post = convert(item, handle, own_id)
            except (KeyError, TypeError, AttributeError, ValueError):
                # A hand-edited or hostile folder: fields of the wrong type or missing.
                raise InputError(
                    f"{items_file}, line {n}: not a {platform} post object (a field is missing "
                    "or has the wrong type); fetch again into a new folder"
                ) from None
            by_id.setdefault(
                post.id, post
            )  # the store never duplicates; this guards edited folders
        yield from sorted(by_id.values(), key=lambda p: (p.created_at or "", p.id))

    return SourceData(
        spec=str(spec if spec is not None else path),
        kind=KIND,
        files=[items_file, folder / MANIFEST],
        posts=posts(),
        authors={handle: Author(handle=handle, name=_text(account.get("name")))},
    )


def open_fetch_spec(spec: str, workspace: str | os.PathLike | None = None, **options) -> SourceData:
    """``mastodon:…`` / ``bluesky:…`` / ``x:…``: fetch into ``<workspace>/<handle>/raw/<platform>``
    (resuming an interrupted fetch, else fetching only newer posts), then read it. The fetch is
    recorded as a "fetch" run, as ``tweettwin fetch`` records it.

    ``options`` may carry ``fetch``'s ``api_base``, ``limit``, ``yes``, ``progress``, ``client``;
    anything else (reader options meant for files) is ignored.
    """
    from tweettwin.ingest.fetch import default_output
    from tweettwin.pipeline import fetch_step

    allowed = {"api_base", "limit", "yes", "progress", "client"}
    kwargs = {k: v for k, v in options.items() if k in allowed and v is not None}
    output = Path(options["output"]) if options.get("output") else default_output(spec, workspace)
    result = fetch_step(spec, output=output, update=True, workspace=workspace, **kwargs)
    return read_fetched(result.output, spec=spec)


def _open_scheme(rest: str, *, spec: str, **options) -> SourceData:
    """``open_source`` entry for ``mastodon:``/``bluesky:``/``x:`` (registered in ``SCHEMES``)."""
    author = options.pop("author", None)
    data = open_fetch_spec(spec, **options)
    return read_fetched(data.files[0].parent, spec=spec, author=author) if author else data


for _name in ("mastodon", "bluesky", "x"):
    SCHEMES.setdefault(_name, _open_scheme)


# -- platform objects -> Post --------------------------------------------------------------------
# Only these are trained on. An allow-list: "limited", "mutuals_only", "local", a value a new
# server version invents, or a missing field all mean "not for everyone", hence private.
PUBLIC_VISIBILITY = frozenset(("public", "unlisted"))


def _text(value) -> str:
    """A text field: a list or an object there would be trained as its Python repr."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _lang(value) -> str | None:
    return value if isinstance(value, str) and value else None


def is_public(visibility) -> bool:
    return isinstance(visibility, str) and visibility.strip().lower() in PUBLIC_VISIBILITY


def mastodon_post(status: dict, handle: str, own_id: str = "") -> Post:
    boosted = status.get("reblog")
    content = _text(status.get("content"))
    if len(content) > MAX_HTML_CHARS:  # not a post; parsing it would take minutes
        raise ValueError("content far longer than any post")
    text, urls = ("", []) if boosted else html_to_text(content)
    return Post(
        id=str(status.get("id", "")),
        text=text,
        author=handle,
        created_at=parse_date(status.get("created_at")),
        source="mastodon-api",
        is_repost=bool(boosted),
        is_reply=bool(status.get("in_reply_to_id")),
        private=not is_public(status.get("visibility")),
        lang=_lang(status.get("language")),
        urls=urls,
    )


def bluesky_post(item: dict, handle: str, own_did: str = "") -> Post:
    from tweettwin.ingest.fetch.bluesky import Bluesky

    post = item.get("post") or {}
    record = post.get("record") or {}
    reason = item.get("reason") or {}
    author_did = (post.get("author") or {}).get("did")
    repost = reason.get("$type") == _REPOST or bool(
        own_did and author_did and author_did != own_did
    )
    # Bluesky has no per-post audience: everything in the feed is public, except what its
    # author asked not to show to logged-out viewers (the same label fetch honours).
    labels = (post.get("author") or {}).get("labels") or []
    hidden = any(isinstance(lb, dict) and lb.get("val") == "!no-unauthenticated" for lb in labels)
    facets = record.get("facets") or []
    langs = record.get("langs") or []
    return Post(
        id=Bluesky.key(item),
        text="" if repost else strip_link_facets(_text(record.get("text")), facets),
        author=handle,
        created_at=parse_date(record.get("createdAt") or post.get("indexedAt")),
        source="bluesky",
        is_repost=repost,
        is_reply=bool(record.get("reply")),
        private=hidden,
        lang=langs[0] if langs and isinstance(langs[0], str) else None,
        urls=[] if repost else _link_uris(facets),
    )


def x_post(tweet: dict, handle: str, own_id: str = "") -> Post:
    note = tweet.get("note_tweet") or {}
    refs = {
        ref.get("type") for ref in tweet.get("referenced_tweets") or [] if isinstance(ref, dict)
    }
    text = _text(note.get("text")) or _text(tweet.get("text"))
    urls: list[str] = []
    for entities in (tweet.get("entities") or {}, note.get("entities") or {}):
        for url in entities.get("urls") or []:
            if isinstance(url.get("url"), str) and url["url"] not in urls:
                urls.append(url["url"])
    return Post(
        id=str(tweet.get("id", "")),
        text=text,
        author=handle,
        created_at=parse_date(tweet.get("created_at")),
        source="x-api",
        is_repost="retweeted" in refs or text.startswith("RT @"),
        is_reply="replied_to" in refs,
        lang=_lang(tweet.get("lang")),
        urls=urls,
    )


def strip_link_facets(text: str, facets: list) -> str:
    """Cut every link facet out of ``text``; facet offsets count UTF-8 bytes, end exclusive."""
    data = text.encode("utf-8")
    spans = sorted(
        (f["index"]["byteStart"], f["index"]["byteEnd"])
        for f in facets
        if _is_link(f) and _valid_span(f, len(data))
    )
    if not spans:
        return text
    out, pos = bytearray(), 0
    for start, end in spans:
        if start < pos:  # overlapping facets: the first one already cut this
            continue
        out += data[pos:start]
        pos = end
    out += data[pos:]
    # A facet that splits a character (a broken client) must not break decoding.
    stripped = out.decode("utf-8", errors="ignore")
    return "\n".join(_SPACES.sub(" ", line).strip() for line in stripped.split("\n")).strip()


def _is_link(facet: object) -> bool:
    if not isinstance(facet, dict):
        return False
    return any(isinstance(f, dict) and f.get("$type") == _LINK for f in facet.get("features") or [])


def _valid_span(facet: dict, size: int) -> bool:
    index = facet.get("index") or {}
    start, end = index.get("byteStart"), index.get("byteEnd")
    return isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size


def _link_uris(facets: list) -> list[str]:
    return [
        f["uri"]
        for facet in facets
        if _is_link(facet)
        for f in facet.get("features") or []
        if isinstance(f, dict) and f.get("$type") == _LINK and f.get("uri")
    ]
