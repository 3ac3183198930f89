"""SOURCE specs (``mastodon:@user@instance``, ``bluesky:handle``, ``x:@handle``) and addresses.

Parsing and checking happen before any request, so a bad spec or an ``--api-base`` holding a
password fails fast and is never stored or echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tweettwin.errors import ConfigError, InputError
from tweettwin.workspace import Workspace

PLATFORMS = ("mastodon", "bluesky", "x")

_MASTODON = re.compile(
    r"^@?(?P<user>[A-Za-z0-9_][A-Za-z0-9_.-]*)@(?P<host>[A-Za-z0-9.-]+(?::\d+)?)$"
)
_BLUESKY = re.compile(r"^@?(?P<handle>did:[a-z]+:[A-Za-z0-9._:%-]+|[A-Za-z0-9][A-Za-z0-9.-]*)$")
_X = re.compile(r"^@?(?P<handle>[A-Za-z0-9_]{1,15})$")


@dataclass(frozen=True)
class FetchSpec:
    platform: str  # "mastodon", "bluesky", "x"
    handle: str  # mastodon "user@host", bluesky "alice.bsky.social" or a DID, x "alice"
    spec: str  # as given

    @property
    def default_api(self) -> str:
        if self.platform == "mastodon":
            host = self.handle.partition("@")[2]
            # A development instance on this machine speaks plain HTTP (Mastodon's dev server does).
            local = host.split(":")[0] in ("localhost", "127.0.0.1")
            return f"{'http' if local else 'https'}://{host}"
        if self.platform == "bluesky":
            return "https://public.api.bsky.app"
        return "https://api.x.com"


def is_fetch_spec(spec: str) -> bool:
    """True for ``mastodon:…``, ``bluesky:…`` and ``x:…`` (not for a path that exists)."""
    prefix, sep, _ = str(spec).partition(":")
    return bool(sep) and prefix.lower() in PLATFORMS and not _exists(Path(spec))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system names no file
        return False


def parse_spec(spec: str) -> FetchSpec:
    prefix, sep, rest = str(spec).strip().partition(":")
    platform = prefix.lower()
    if not sep or platform not in PLATFORMS:
        raise InputError(
            f"unknown SOURCE {spec!r}: use mastodon:@user@instance,"
            " bluesky:handle.bsky.social or x:@handle"
        )
    rest = rest.strip()
    if platform == "mastodon":
        m = _MASTODON.match(rest)
        if not m:
            raise InputError(
                f"{spec!r}: a Mastodon handle looks like mastodon:@user@instance.social"
            )
        return FetchSpec("mastodon", f"{m['user']}@{m['host'].lower()}", spec)
    if platform == "bluesky":
        m = _BLUESKY.match(rest)
        if not m:
            raise InputError(f"{spec!r}: a Bluesky handle looks like bluesky:alice.bsky.social")
        handle = m["handle"]
        if not handle.startswith("did:"):
            handle = handle.lower() if "." in handle else f"{handle.lower()}.bsky.social"
        return FetchSpec("bluesky", handle, spec)
    m = _X.match(rest)
    if not m:
        raise InputError(
            f"{spec!r}: an X handle looks like x:@handle (letters, digits, _; 15 at most)"
        )
    return FetchSpec("x", m["handle"], spec)


def default_output(spec: str | FetchSpec, root: Workspace | str | Path | None = None) -> Path:
    """``<workspace>/<handle>/raw/<platform>``: where fetches (and ``prepare handle``) put posts."""
    parsed = spec if isinstance(spec, FetchSpec) else parse_spec(spec)
    return Workspace.resolve(root).raw_dir(parsed.handle, parsed.platform)


def check_api_base(api_base: str) -> None:
    """An http(s) URL without credentials: the address is stored in the fetch folder's manifest
    and shown in messages, so a user:password (or a token in the query) would leak."""
    try:
        parts = urlsplit(api_base)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is not None and (parts.username is not None or parts.password is not None):
        shown = f"{parts.scheme}://***@{host or ''}"
        raise ConfigError(
            f"--api-base must not hold a user name or password (got {shown}); tweettwin reads"
            " public posts without a login: give the address alone, like https://host"
        )
    if parts is not None and (parts.query or parts.fragment):
        raise ConfigError(
            f"--api-base must be a plain address without ?query or #fragment (got"
            f" {parts.scheme}://{parts.netloc}{parts.path}?...): tokens do not belong in it"
        )
    if parts is None or parts.scheme not in ("http", "https") or not host:
        # Unparsable: whatever precedes an "@" may be a password, so it is never echoed.
        shown = "***@" + api_base.rsplit("@", 1)[1] if "@" in api_base else api_base
        raise ConfigError(
            f"--api-base must be an http(s) URL like https://mastodon.social (got {shown!r})"
        )
