"""Text in any script for the preview picture: the font fallback chain, single-font runs,
direction, width and wrapping.

Each character is drawn with the first font that has a glyph for it (Noto Sans, Noto Emoji,
Noto Sans Symbols, the Noto script fonts and Noto Sans CJK from the ``manimgx-fonts`` wheels,
then the system's Noto/DejaVu), and each run is shaped by Pillow's Raqm layout (Arabic
joining, Indic clusters, emoji ZWJ sequences).
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ImageDraw, ImageFont

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
        direction = text_direction(text)
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
        direction = direction or text_direction(text)
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


def text_direction(text: str) -> str:
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
                cut = max(1, chars_that_fit(token, face, width))
                lines.append(token[:cut])
                token = token[cut:]
            line = token.lstrip() if lines else token
        lines.append(line.rstrip())
    return lines


def chars_that_fit(token: str, face: Typeface, width: float) -> int:
    """How many leading characters of ``token`` fit in ``width`` (at least 1)."""
    lo, hi = 1, len(token)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if face.width(token[:mid]) <= width else (lo, mid - 1)
    return lo
