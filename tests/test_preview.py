"""Preview picture: layout, wrapping, every script and emoji drawn with a real glyph, avatars."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from PIL import Image, ImageChops, ImageDraw

from tweettwin.publish import preview, typeface

# One word per script; each must be drawn with a font that has it, not as a tofu box.
SAMPLES = {
    "emoji": "🌊",
    "emoji-zwj": "👩‍💻",
    "emoji-skin-tone": "👍🏽",
    "japanese": "夢",
    "korean": "꿈",
    "arabic": "حلم",
    "hebrew": "חלום",
    "devanagari": "सपना",
    "thai": "ฝัน",
    "cyrillic": "мечта",
    "greek": "όνειρο",
    "symbols": "☕",
}


def _draw(text: str, font=None) -> Image.Image:
    img = Image.new("L", (400, 120), 0)
    d = ImageDraw.Draw(img)
    if font is None:
        preview.Typeface(60).draw(d, (20, 90), text, 255)
    else:
        d.text((20, 90), text, font=font, fill=255, anchor="ls")
    return img


def _ink(img: Image.Image) -> int:
    return sum(img.histogram()[129:])


@pytest.fixture(scope="module")
def tofu() -> Image.Image:
    # What a missing glyph looks like in the primary font (U+E000: private use, no glyph anywhere).
    face = preview.Typeface(60)
    return _draw("\ue000", face.font(face.files[0]))


@pytest.mark.parametrize("name", SAMPLES)
def test_every_script_and_emoji_gets_a_real_glyph(name, tofu):
    text = SAMPLES[name]
    face = preview.Typeface(60)
    assert all(face._font_for(ch) is not None for ch in text if not typeface._ATTACH.match(ch))
    img = _draw(text)
    assert _ink(img) > 150  # something was drawn
    assert ImageChops.difference(img.crop(img.getbbox()), tofu.crop(tofu.getbbox())).getbbox()


def test_card_size_grows_with_the_post_and_stays_inside():
    short = preview.render_preview("My dream is tea.", handle="ada", name="Ada Lovelace")
    long = preview.render_preview("My dream is " + "a very long sentence " * 20, handle="ada")
    assert short.mode == "RGB" and short.width == long.width == preview.WIDTH
    assert long.height > short.height + 4 * 50  # several more lines


def test_wrapping_keeps_lines_within_width_and_breaks_long_tokens():
    face = preview.Typeface(preview.TEXT_SIZE)
    width = 600
    text = (
        "see https://example.com/" + "x" * 120 + " then 日本語のテキストはスペースなしで続きます"
        "\nsecond paragraph"
    )
    lines = preview.wrap(text, face, width)
    assert all(face.width(line) <= width for line in lines)
    assert lines[-1] == "second paragraph"  # the post's own line break is kept
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_very_long_posts_are_cut_with_an_ellipsis():
    img = preview.render_preview("word " * 2000, handle="ada")
    assert img.height < 1400


def test_initials_avatar_uses_the_handle_colour():
    img = preview.render_preview("hello", handle="ada", name="Ada Lovelace")
    # a point inside the avatar circle, away from the white initials
    x, y = preview.PAD + 12, preview.PAD + preview.AVATAR // 2
    assert img.getpixel((x, y)) == preview.handle_color("ada")
    assert preview.handle_color("ada") == preview.handle_color("ADA") != preview.handle_color("bob")
    assert preview.initials("Ada King Lovelace", "ada") == "AL"
    assert preview.initials("", "@charles") == "C"


def _red_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (220, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_avatar_is_read_from_the_archive_named_in_the_manifest(tmp_path, monkeypatch):
    archive = tmp_path / "ada.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/profile_media/1-avatar.png", _red_png())
        zf.writestr("data/tweets.js", "window.YTD.tweets.part0 = []")
    model = tmp_path / "model"
    model.mkdir()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    manifest = {
        "inputs": [{"path": "ada.zip", "sha256": digest, "bytes": archive.stat().st_size}],
        "authors": [
            {
                "handle": "ada",
                "name": "Ada",
                "avatar": "data/profile_media/1-avatar.png",
                "kept": 10,
            }
        ],
    }
    (model / "dataset_manifest.json").write_text(json.dumps(manifest))
    monkeypatch.chdir(tmp_path)  # the manifest path is relative to the SOURCE's folder
    out = preview.render_preview_for_model(model, "My dream is red 🔴")
    img = Image.open(out).convert("RGB")
    r, g, b = img.getpixel((preview.PAD + preview.AVATAR // 2, preview.PAD + preview.AVATAR // 2))
    assert r > 180 and g < 60 and b < 60


def test_missing_avatar_falls_back_to_initials(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    manifest = {
        "authors": [{"handle": "ada", "name": "Ada", "avatar": "data/profile_media/gone.jpg"}]
    }
    (model / "dataset_manifest.json").write_text(json.dumps(manifest))
    img = Image.open(preview.render_preview_for_model(model, "hi")).convert("RGB")
    assert img.getpixel(
        (preview.PAD + 12, preview.PAD + preview.AVATAR // 2)
    ) == preview.handle_color("ada")
