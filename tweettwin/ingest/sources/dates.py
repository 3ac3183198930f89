"""Dates as the sources write them -> ISO 8601 UTC (``YYYY-MM-DDTHH:MM:SSZ``), or None.

Shared by every reader: tables (``files``), the X archive, the Mastodon archive and fetched pages.
"""

from __future__ import annotations

from datetime import datetime, timezone

_MON = {
    m: f"{i:02d}"
    for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}
_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",
    "%Y-%m-%d %H:%M:%S %z",
    "%m-%d-%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d %b %Y %H:%M:%S",
)


def twitter_date_iso(value: str) -> str | None:
    """``Wed Mar 18 21:48:42 +0000 2020`` -> ``2020-03-18T21:48:42Z`` fast; else parse_date."""
    p = value.split(" ")
    if len(p) == 6 and p[4] == "+0000" and p[1] in _MON and len(p[2]) == 2:
        return _checked(f"{p[5]}-{_MON[p[1]]}-{p[2]}T{p[3]}Z")
    return parse_date(value)


def _checked(iso: str) -> str | None:
    """The fast paths build the string by hand: a real date, or None (Feb 30, 25:61 ...)."""
    if len(iso) != 20:
        return None
    try:
        datetime.fromisoformat(iso[:-1])
    except ValueError:
        return None
    return iso


def _iso(d: datetime) -> str:
    if d.tzinfo is not None:
        d = d.astimezone(timezone.utc)  # OverflowError past year 9999 or before year 1
    # Not strftime: glibc writes year 763 as "763", which is no ISO 8601 date.
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}Z"


def parse_date(value) -> str | None:
    """Common date forms -> ISO 8601 UTC; naive times are taken as UTC; None when unknown.

    Twitter's ``Wed Mar 18 21:48:42 +0000 2020``, ISO 8601 (``Z``/offsets/fractions),
    ``2019-07-01 15:54:18 +0000``, ``MM-DD-YYYY HH:MM:SS``, epoch seconds or milliseconds.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _epoch(value)
    s = str(value).strip()
    if not s:
        return None
    if s.replace(".", "", 1).isdigit():
        return _epoch(float(s))
    if len(s) == 30 and s[3] == " ":
        p = s.split(" ")
        if len(p) == 6 and p[4] == "+0000" and p[1] in _MON:
            return _checked(f"{p[5]}-{_MON[p[1]]}-{p[2]}T{p[3]}Z")
    iso = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
    try:
        return _iso(datetime.fromisoformat(iso))
    except (ValueError, OverflowError):  # a date at the edge of the range is no known date
        pass
    for fmt in _FORMATS:
        try:
            return _iso(datetime.strptime(s, fmt))
        except (ValueError, OverflowError):
            continue
    return None


def _epoch(v: float) -> str | None:
    if v != v:  # NaN
        return None
    if v > 1e11:  # milliseconds
        v /= 1000
    try:
        return _iso(datetime.fromtimestamp(v, timezone.utc))
    except (OverflowError, OSError, ValueError):
        return None
