"""Mastodon account export -> Posts: the archive ``.zip``, its folder, or ``outbox.json``.

``outbox.json`` is an ActivityStreams ``OrderedCollection``; ``orderedItems`` holds
``Create`` (own post: ``object`` is a ``Note`` with HTML ``content``) and ``Announce`` (boost:
``object`` is only a URL) activities. The export has no visibility field: the public collection
in ``to`` = public, in ``cc`` = unlisted, absent = followers-only or direct -> ``private=True``
(cleaning drops and counts them). ``totalItems`` is not trusted; the array is counted.

HTML becomes plain text: ``<br>`` -> newline, paragraphs -> blank line, link/mention/hashtag
text kept (full link URL, invisible spans included, so cleaning can strip it; hrefs of links
go to ``urls``). Entities are left as written (``&quot;``): cleaning decodes them once.
The outbox is loaded with one ``json.loads`` (exports are a few MB per thousand posts).
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from tweettwin.errors import InputError
from tweettwin.ingest.posts import Author, Post
from tweettwin.ingest.sources import SourceData, clean_handle
from tweettwin.ingest.sources.dates import parse_date
from tweettwin.ingest.sources.limits import DEFAULT_MAX_MEMBER_BYTES
from tweettwin.ingest.sources.safezip import (
    FolderTree,
    Tree,
    decode_chunks,
    loads,
    open_tree,
    read_whole,
    safe_sibling,
)

KIND = "mastodon-archive"
# HTML of one post: markup around at most 100,000 characters of text (see prepare). Checked
# before parsing, which for a 200 MB "post" would take minutes.
MAX_HTML_CHARS = 1_000_000
PUBLIC = frozenset(("https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"))
_TODO = (
    "pass the archive .zip from Mastodon's Import and export > Request your archive, "
    "or its outbox.json"
)


def find_outbox(names: list[str]) -> str | None:
    hits = [n for n in names if PurePosixPath(n).name == "outbox.json"]
    return min(hits, key=lambda n: (n.count("/"), n)) if hits else None


def read_mastodon_archive(
    path: str | Path,
    *,
    author: str | None = None,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    spec: str | None = None,
) -> SourceData:
    """Open a Mastodon export (zip, folder or outbox.json; actor.json beside it is used)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".json":
        names = [path.name] + (
            ["actor.json"]
            if safe_sibling(path.parent / "actor.json") and path.name != "actor.json"
            else []
        )
        tree: Tree = FolderTree(path.parent, names)
        outbox = path.name
    else:
        tree = open_tree(path, max_member_bytes)
        if not tree.names:
            raise InputError(f"{path}: the archive is empty; {_TODO}")
        outbox = find_outbox(tree.names)
        if outbox is None:
            raise InputError(f"{path}: no outbox.json inside; {_TODO}")
    data = _load(tree, outbox)
    items = data.get("orderedItems") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(
            f"{tree.where(outbox)}: no 'orderedItems' array; is this a Mastodon outbox? {_TODO}"
        )
    actor_name = str(PurePosixPath(outbox).with_name("actor.json"))
    actor = _load(tree, actor_name) if actor_name in tree.names else {}
    actor = actor if isinstance(actor, dict) else {}
    handle = (
        clean_handle(author)
        or clean_handle(actor.get("preferredUsername"))
        or clean_handle(_fallback_handle(items))
        or clean_handle(path.stem)
        or "posts"
    )
    avatar = _avatar(tree, actor, actor_name)
    files = list(dict.fromkeys(tree.file_path(n) for n in [outbox, actor_name] if n in tree.names))
    return SourceData(
        spec=spec or str(path),
        kind=KIND,
        files=files,
        posts=_posts(items, handle, tree.where(outbox)),
        authors={handle: Author(handle=handle, name=_text(actor.get("name")), avatar=avatar)},
    )


def _load(tree: Tree, name: str):
    where = tree.where(name)
    return loads(read_whole(decode_chunks(tree.chunks(name), where), where), where, _TODO)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _fallback_handle(items: list) -> str | None:
    for it in items[:50]:
        if not isinstance(it, dict):
            continue
        obj = it.get("object")
        url = it.get("actor") or (obj.get("attributedTo") if isinstance(obj, dict) else None)
        if isinstance(url, str) and url.rstrip("/"):
            return url.rstrip("/").rsplit("/", 1)[-1].lstrip("@")
    return None


def _avatar(tree: Tree, actor: dict, actor_name: str) -> str | None:
    icon = actor.get("icon")
    url = icon.get("url") if isinstance(icon, dict) else icon
    if not isinstance(url, str) or not url or "://" in url:
        return None
    name = str(PurePosixPath(actor_name).parent / url.lstrip("/"))
    if name not in tree.names:
        return None
    return name if tree.file_path(name) == tree.path else str(tree.file_path(name))


def _public(to, cc) -> tuple[bool, bool]:
    """(public in to, public in cc)."""

    def has(v):
        if isinstance(v, str):
            return v in PUBLIC
        return isinstance(v, list) and any(isinstance(x, str) and x in PUBLIC for x in v)

    return has(to), has(cc)


def _status_id(url) -> str:
    s = str(url or "").rstrip("/")
    if s.endswith("/activity"):
        s = s[: -len("/activity")]
    return s.rsplit("/", 1)[-1] or s


def _posts(items: list, handle: str, where: str) -> Iterator[Post]:
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise InputError(f"{where}: orderedItems[{i}] is not an activity object; {_TODO}")
        typ = it.get("type")
        if typ == "Announce":
            obj = it.get("object")
            target = obj if isinstance(obj, str) else obj.get("id") if isinstance(obj, dict) else ""
            yield Post(
                id=_status_id(it.get("id")) or f"announce-{i}",
                text="",
                author=handle,
                created_at=parse_date(it.get("published")),
                source=KIND,
                is_repost=True,
                urls=[target] if isinstance(target, str) and target else [],
            )
        elif typ == "Create":
            yield _note(it, i, handle, where)
        # other activities (Like, Follow, ...) are not posts


def _note(it: dict, i: int, handle: str, where: str) -> Post:
    obj = it.get("object")
    if not isinstance(obj, dict):
        raise InputError(f"{where}: orderedItems[{i}] (Create) has no 'object' Note; {_TODO}")
    content = obj.get("content")
    if content is None and isinstance(obj.get("contentMap"), dict):
        content = next(iter(obj["contentMap"].values()), None)
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise InputError(f"{where}: orderedItems[{i}] has a non-text 'content'; {_TODO}")
    if len(content) > MAX_HTML_CHARS:
        raise InputError(
            f"{where}: orderedItems[{i}] has {len(content):,} characters of content, far more "
            f"than any post; {_TODO}"
        )
    text, urls = html_to_text(content)
    to_pub, cc_pub = _public(it.get("to", obj.get("to")), it.get("cc", obj.get("cc")))
    if not (to_pub or cc_pub):  # activity lists may be absent: fall back to the Note's
        to_pub, cc_pub = _public(obj.get("to"), obj.get("cc"))
    cmap = obj.get("contentMap")
    lang = next(iter(cmap), None) if isinstance(cmap, dict) and cmap else None
    return Post(
        id=_status_id(obj.get("id") or it.get("id")) or f"create-{i}",
        text=text,
        author=handle,
        created_at=parse_date(obj.get("published") or it.get("published")),
        source=KIND,
        is_repost=False,
        is_reply=bool(obj.get("inReplyTo")),
        private=not (to_pub or cc_pub),
        lang=lang,
        urls=urls,
    )


class _Html(HTMLParser):
    """Mastodon's sanitized HTML -> text; entities are kept as written."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.urls: list[str] = []
        self.paragraphs = 0

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.out.append("\n")
        elif tag == "p":
            if self.paragraphs:
                self.out.append("\n\n")
            self.paragraphs += 1
        elif tag == "a":
            a = dict(attrs)
            cls = a.get("class") or ""
            href = a.get("href")
            if href and "mention" not in cls and "hashtag" not in cls:
                self.urls.append(href)

    def handle_data(self, data):
        self.out.append(data)

    def handle_entityref(self, name):
        self.out.append(f"&{name};")

    def handle_charref(self, name):
        self.out.append(f"&#{name};")


def html_to_text(content: str) -> tuple[str, list[str]]:
    """(plain text, link hrefs) of a post's HTML ``content``."""
    if "<" not in content:
        return content.strip(), []
    p = _Html()
    p.feed(content)
    p.close()
    return "".join(p.out).strip(), p.urls
