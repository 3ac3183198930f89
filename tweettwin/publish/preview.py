"""The preview picture: a generated post drawn as a post card (the model card's thumbnail).

Like huggingtweets' predictions.png: avatar, display name, @handle, an "AI bot" label and the
post, wrapped. Any script and emoji render: each character is drawn with the first font that
has a glyph for it (Noto Sans, Noto Emoji, Noto Sans Symbols, the Noto script fonts and Noto
Sans CJK from the ``manimgx-fonts`` wheels, then the system's Noto/DejaVu), and each run is
shaped by Pillow's Raqm layout (Arabic joining, Indic clusters, emoji ZWJ sequences).
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from tweettwin.atomic import atomic_file
from tweettwin.model_folder import DATASET_MANIFEST, PREVIEW_PNG, read_json_object

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

# Primary faces first; scripts and CJK only consulted for characters the earlier ones lack.
# (package, file-name regex)
_PACKAGE_FONTS = (
    ("manimgx_fonts", r"NotoSans\[wght\]\.ttf"),
    ("manimgx_fonts", r"NotoEmoji\[wght\]\.ttf"),
    ("manimgx_fonts", r"NotoSansSymbols\[wght\]\.ttf"),
    ("manimgx_fonts", r"NotoSans[A-Z]\w+\[wght\]\.ttf"),
    ("manimgx_fonts_cjk", r"NotoSansCJK.*\.tt[fc]"),
)
_SYSTEM_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
_SYSTEM_PATTERNS = (
    "NotoSans-Regular.ttf",
    "NotoColorEmoji.ttf",
    "NotoSansCJK-Regular.ttc",
    "DejaVuSans.ttf",
    "Arial Unicode.ttf",
    "seguiemj.ttf",
    "arial.ttf",
)
# Joiners and modifiers belong to the glyph cluster before them: keep them in the same run.
_ATTACH = re.compile(r"[\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\u20e3\U000e0020-\U000e007f]")


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int = 0

    @property
    def is_emoji(self) -> bool:  # its space is emoji-wide: never let it carry text spacing
        return "emoji" in Path(self.path).name.lower()

    @functools.cached_property
    def cmap(self) -> frozenset[int]:
        from fontTools.ttLib import TTFont

        try:
            with TTFont(self.path, fontNumber=self.index, lazy=True) as tt:
                return frozenset(tt.getBestCmap() or {})
        except Exception:  # an unreadable system font is skipped, not fatal
            return frozenset()


@functools.cache
def font_files() -> tuple[FontFile, ...]:
    """Every usable font file, in fallback order."""
    found: list[str] = []
    import importlib.util

    for package, pattern in _PACKAGE_FONTS:
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            folder = Path(spec.origin).parent
            found += sorted(str(p) for p in folder.iterdir() if re.fullmatch(pattern, p.name))
    for root in _SYSTEM_DIRS:
        if os.path.isdir(root):
            for name in _SYSTEM_PATTERNS:
                found += sorted(str(p) for p in Path(root).rglob(name))
    unique = list(dict.fromkeys(found))
    if not unique:
        return ()
    return tuple(FontFile(p) for p in unique)


@functools.cache
def _face(path: str, index: int, size: int, bold: bool) -> ImageFont.FreeTypeFont:
    layout = ImageFont.Layout.RAQM if ImageFont.core.HAVE_RAQM else ImageFont.Layout.BASIC
    font = ImageFont.truetype(path, size, index=index, layout_engine=layout)
    try:
        axes = font.get_variation_axes()
        if axes:
            weight = 700 if bold else 400
            font.set_variation_by_axes([min(max(weight, a["minimum"]), a["maximum"]) for a in axes])
    except OSError:
        pass  # not a variable font
    return font


class Typeface:
    """A size and weight across the fallback chain: splits text into single-font runs."""

    def __init__(self, size: int, bold: bool = False) -> None:
        self.size, self.bold = size, bold
        self.files = font_files()

    def _font_for(self, ch: str) -> FontFile | None:
        cp = ord(ch)
        return next((f for f in self.files if cp in f.cmap), None)

    def font(self, ff: FontFile | None) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
        if ff is None:
            if not self.files:
                return ImageFont.load_default(self.size)
            ff = self.files[0]  # draws tofu, which is honest about a missing glyph
        return _face(ff.path, ff.index, self.size, self.bold)

    def runs(self, text: str) -> list[tuple[str, Any]]:
        runs: list[list] = []
        for ch in text:
            if runs and (_ATTACH.match(ch) or unicodedata.combining(ch)):
                runs[-1][0] += ch
                continue
            ff = self._font_for(ch)
            if ch.isspace() and runs and runs[-1][1] and not runs[-1][1].is_emoji:
                ff = runs[-1][1]  # spaces stay inside a run: shaping and bidi see whole phrases
            if runs and runs[-1][1] == ff:
                runs[-1][0] += ch
            else:
                runs.append([ch, ff])
        return [(t, self.font(ff)) for t, ff in runs]

    def width(self, text: str) -> float:
        direction = _direction(text)
        return sum(_length(font, t, direction) for t, font in self.runs(text))

    def draw(
        self,
        draw: ImageDraw.ImageDraw,
        xy: tuple[float, float],
        text: str,
        fill,
        direction: str | None = None,
    ) -> float:
        """Draw ``text`` with its baseline at ``xy[1]``; return the x after it.

        Right-to-left text (the first strong character decides) is drawn with its runs in
        reverse order, each shaped right-to-left by Raqm."""
        x, y = xy
        direction = direction or _direction(text)
        runs = self.runs(text)
        if direction == "rtl":
            runs.reverse()
        for t, font in runs:
            kwargs = {"direction": direction} if _has_raqm(font) else {}
            draw.text((x, y), t, font=font, fill=fill, anchor="ls", **kwargs)
            x += _length(font, t, direction)
        return x


def _has_raqm(font: Any) -> bool:
    return getattr(font, "layout_engine", None) == ImageFont.Layout.RAQM


def _length(font: Any, text: str, direction: str) -> float:
    return font.getlength(text, direction=direction) if _has_raqm(font) else font.getlength(text)


def _direction(text: str) -> str:
    for ch in text:
        bidi = unicodedata.bidirectional(ch)
        if bidi in ("R", "AL"):
            return "rtl"
        if bidi == "L":
            return "ltr"
    return "ltr"


_CJK = re.compile(
    r"[\u1100-\u11ff\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)


def _tokens(paragraph: str) -> list[str]:
    """Break opportunities: after spaces, and between CJK characters (no spaces there)."""
    tokens: list[str] = []
    for word in re.findall(r"\S+\s*|\s+", paragraph):
        if _CJK.search(word):
            tokens += re.findall(rf"{_CJK.pattern}\s*|[^{_CJK.pattern[1:-1]}]+", word)
        else:
            tokens.append(word)
    return tokens


def wrap(text: str, face: Typeface, width: float) -> list[str]:
    """Greedy wrap by rendered width, keeping the post's own line breaks."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if face.width((line + token).rstrip()) <= width:
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = ""
            while face.width(token.rstrip()) > width:  # a URL or a run longer than a line
                cut = max(1, _fit(token, face, width))
                lines.append(token[:cut])
                token = token[cut:]
            line = token.lstrip() if lines else token
        lines.append(line.rstrip())
    return lines


def _fit(token: str, face: Typeface, width: float) -> int:
    lo, hi = 1, len(token)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if face.width(token[:mid]) <= width else (lo, mid - 1)
    return lo


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
    rtl = _direction(text) == "rtl"
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
        name = name[: _fit(name, name_face, room - name_face.width("…"))].rstrip() + "…"
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
