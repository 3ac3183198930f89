"""The preview picture: a generated post drawn as a post card (the model card's thumbnail).

Like huggingtweets' predictions.png: avatar, display name, @handle, an "AI bot" label and the
post, wrapped. Any script and emoji render: ``typeface`` draws the text with a font fallback
chain, shaped by Pillow's Raqm layout.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from tweettwin.atomic import atomic_file
from tweettwin.model_folder import DATASET_MANIFEST, PREVIEW_PNG, read_json_object

# Typeface and wrap are used below; FontFile and font_files stay importable from here too.
from tweettwin.publish.typeface import (  # noqa: F401
    FontFile,
    Typeface,
    chars_that_fit,
    font_files,
    text_direction,
    wrap,
)

WIDTH = 1200
PAD = 56
AVATAR = 120
TEXT_SIZE = 46
NAME_SIZE = 40
HANDLE_SIZE = 34
SMALL_SIZE = 26
INK = (15, 20, 25)
GREY = (83, 100, 113)
LINE = (207, 217, 222)
BADGE = (29, 155, 240)
MAX_LINES = 14


def handle_color(handle: str) -> tuple[int, int, int]:
    """A stable, saturated colour for a handle (the initials avatar's background)."""
    hue = int(hashlib.sha256(handle.lower().encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    r, g, b = colorsys.hls_to_rgb(hue, 0.45, 0.55)
    return int(r * 255), int(g * 255), int(b * 255)


def initials(name: str | None, handle: str) -> str:
    """Up to two letters: first and last word of the display name, else the handle's first."""
    words = [w for w in re.split(r"[\s_.-]+", name or "") if w and w[0].isalnum()]
    if len(words) >= 2:
        return (words[0][0] + words[-1][0]).upper()
    base = words[0] if words else handle.lstrip("@")
    return base[:1].upper() or "?"


def _avatar(avatar: bytes | None, name: str | None, handle: str, size: int) -> Image.Image:
    mask = Image.new("L", (size * 4, size * 4), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size * 4 - 1, size * 4 - 1), fill=255)
    mask = mask.resize((size, size), Image.LANCZOS)
    picture = None
    if avatar:
        try:
            picture = ImageOps.fit(
                Image.open(io.BytesIO(avatar)).convert("RGB"), (size, size), Image.LANCZOS
            )
        except Exception:  # a broken profile image falls back to initials
            picture = None
    if picture is None:
        picture = Image.new("RGB", (size, size), handle_color(handle))
        face = Typeface(int(size * 0.42), bold=True)
        text = initials(name, handle)
        d = ImageDraw.Draw(picture)
        w = face.width(text)
        face.draw(d, ((size - w) / 2, size / 2 + size * 0.15), text, (255, 255, 255))
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.paste(picture, (0, 0), mask)
    return out


def render_preview(
    text: str,
    *,
    handle: str,
    name: str | None = None,
    avatar: bytes | None = None,
    label: str = "AI bot",
    footer: str | None = None,
    width: int = WIDTH,
) -> Image.Image:
    """The post card as a Pillow image (RGB)."""
    handle = handle.lstrip("@")
    body = Typeface(TEXT_SIZE)
    text_w = width - 2 * PAD
    lines = wrap(text.strip() or "…", body, text_w)
    if len(lines) > MAX_LINES:
        lines = lines[: MAX_LINES - 1] + [lines[MAX_LINES - 1].rstrip() + " …"]
    line_h = int(TEXT_SIZE * 1.38)
    header_h = AVATAR + 36
    footer_h = 84 if footer else 24
    height = PAD + header_h + line_h * len(lines) + footer_h + PAD // 2
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)
    picture = _avatar(avatar, name, handle, AVATAR)
    img.paste(picture, (PAD, PAD), picture)
    _header(d, PAD + AVATAR + 28, PAD, name or handle, handle, label, width - PAD)
    y = PAD + header_h + int(TEXT_SIZE * 1.05)
    rtl = text_direction(text) == "rtl"
    for line in lines:
        x = width - PAD - body.width(line) if rtl else PAD  # RTL posts align right, as apps do
        body.draw(d, (x, y), line, INK, direction="rtl" if rtl else "ltr")
        y += line_h
    if footer:
        rule_y = y - line_h + int(TEXT_SIZE * 0.55) + 26
        d.line((PAD, rule_y, width - PAD, rule_y), fill=LINE, width=2)
        Typeface(SMALL_SIZE).draw(d, (PAD, rule_y + 48), footer, GREY)
    d.rounded_rectangle((1, 1, width - 2, height - 2), radius=28, outline=LINE, width=2)
    return img


def _header(
    d: ImageDraw.ImageDraw, x: int, top: int, name: str, handle: str, label: str, right: int
) -> None:
    name_face, handle_face, badge_face = (
        Typeface(NAME_SIZE, True),
        Typeface(HANDLE_SIZE),
        Typeface(SMALL_SIZE, True),
    )
    badge_w = badge_face.width(label) + 36
    room = right - x - badge_w - 16
    if name_face.width(name) > room:  # long display names are cut, not wrapped
        fit = chars_that_fit(name, name_face, room - name_face.width("…"))
        name = name[:fit].rstrip() + "…"
    baseline = top + 50
    end = name_face.draw(d, (x, baseline), name, INK)
    bx, by = end + 16, baseline - NAME_SIZE * 0.78
    d.rounded_rectangle(
        (bx, by, bx + badge_w, by + SMALL_SIZE + 18), radius=(SMALL_SIZE + 18) // 2, fill=BADGE
    )
    badge_face.draw(d, (bx + 18, by + SMALL_SIZE + 4), label, (255, 255, 255))
    handle_face.draw(d, (x, baseline + 50), f"@{handle}", GREY)


def save_preview(path: str | os.PathLike, text: str, **kwargs: Any) -> Path:
    """Render and write the PNG atomically; ``kwargs`` as :func:`render_preview`."""
    path = Path(path)
    image = render_preview(text, **kwargs)
    with atomic_file(path, "wb", encoding=None) as fh:
        image.save(fh, format="PNG", optimize=True)
    return path


# ------------------------------------------------------------------------------ model folders


def _input_candidates(model_dir: Path, manifest: dict, workspace=None) -> list[Path]:
    """Where the archive may be: the registry's absolute input paths, then the manifest's paths."""
    candidates: list[Path] = []
    try:
        from tweettwin import tracking

        digests = {
            str(i.get("sha256", "")).removeprefix("sha256:") for i in manifest.get("inputs", [])
        }
        for run in tracking.list_runs(kind="prepare", workspace=workspace):
            candidates += [
                Path(i["path"])
                for i in run.inputs
                if i["sha256"].removeprefix("sha256:") in digests
            ]
    except Exception:  # the registry is a help here, not a requirement
        pass
    for item in manifest.get("inputs", []):
        p = Path(str(item.get("path", "")))
        candidates += [p, model_dir / p]
    return list(dict.fromkeys(c for c in candidates if c.exists()))


def find_avatar(
    model_dir: str | os.PathLike,
    author: dict,
    manifest: dict | None = None,
    workspace: str | os.PathLike | None = None,
) -> bytes | None:
    """The author's profile picture recorded by ``prepare`` (a path in the archive), if readable."""
    avatar = author.get("avatar")
    if not avatar:
        return None
    if Path(avatar).is_absolute():
        return Path(avatar).read_bytes() if Path(avatar).is_file() else None
    from tweettwin.ingest.sources.x_archive import read_avatar

    for archive in _input_candidates(Path(model_dir), manifest or {}, workspace):
        try:
            return read_avatar(archive, avatar)
        except Exception:
            continue
    return None


def render_preview_for_model(
    model_dir: str | os.PathLike,
    text: str,
    out: str | os.PathLike | None = None,
    prompt: str | None = None,
    workspace: str | os.PathLike | None = None,
) -> Path:
    """Write ``<model_dir>/preview.png`` for ``text`` using the dataset manifest's author(s)
    (their picture found through ``workspace``'s run registry)."""
    model_dir = Path(model_dir)
    manifest = read_json_object(model_dir / DATASET_MANIFEST, what="dataset manifest")
    authors: Sequence[dict] = sorted(
        manifest.get("authors") or [{"handle": "twin"}], key=lambda a: -int(a.get("kept") or 0)
    )
    lead = authors[0]
    handle = " @".join(str(a.get("handle", "twin")).lstrip("@") for a in authors[:3])
    name = (
        " & ".join(a.get("name") or a.get("handle", "") for a in authors[:3])
        if len(authors) > 1
        else lead.get("name")
    )
    footer = "Written by a language model trained with tweettwin"
    return save_preview(
        out or model_dir / PREVIEW_PNG,
        text,
        handle=handle,
        name=name,
        avatar=find_avatar(model_dir, lead, manifest, workspace),
        footer=footer,
    )
