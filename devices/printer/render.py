"""Vietnamese text to 1-bit images with the bundled DejaVu fonts (no printer code page needed).

Text is normalised to NFC first, so every accented letter is one precomposed glyph of the font.
Images are mode "1" with black (0) where the printer burns a dot. Rendering uses Pillow's basic
layout engine and a fixed threshold, so the same text gives the same pixels on every machine.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from devices.errors import DeviceError

FONT_DIR = Path(__file__).with_name("fonts")
Size = Literal["normal", "large", "big"]
Align = Literal["left", "center", "right"]
SIZES: dict[str, int] = {"normal": 24, "large": 32, "big": 96}  # font size in dots (203 dpi)

_VOWELS = "aăâeêioôơuưy"
_TONES = "\u0300\u0301\u0309\u0303\u0323"  # huyền, sắc, hỏi, ngã, nặng
_LOWER = tuple(unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in _TONES) + tuple("ăâêôơư") + ("đ",)
# The 134 accented Vietnamese letters: 12 vowels x 5 tones, the 6 toneless ă â ê ô ơ ư, and đ;
# lower case then upper case.
VIETNAMESE_LETTERS: tuple[str, ...] = _LOWER + tuple(ch.upper() for ch in _LOWER)


def base_letter(letter: str) -> str:
    """Return the Latin letter under a Vietnamese letter's marks (ế → e, Đ → D)."""
    if letter in ("đ", "Đ"):
        return "d" if letter == "đ" else "D"
    return unicodedata.normalize("NFD", letter)[0]


@dataclass(frozen=True)
class TextStyle:
    """How a row of text is drawn."""

    size: Size = "normal"
    bold: bool = False
    align: Align = "left"


@lru_cache(maxsize=16)
def font(size: Size = "normal", bold: bool = False) -> ImageFont.FreeTypeFont:
    """Return the bundled font at a named size."""
    if size not in SIZES:
        raise DeviceError(
            f"Cỡ chữ “{size}” không có; dùng normal, large hoặc big.",
            f"Unknown text size “{size}”; use normal, large or big.",
        )
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), SIZES[size], layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=16)
def line_box(size: Size = "normal", bold: bool = False) -> tuple[int, int]:
    """Return (top offset, height) of a line that holds the tallest and deepest Vietnamese letters."""
    face = font(size, bold)
    top = int(min(face.getbbox(ch)[1] for ch in "ẪỖỮẴẰÂĐÁ"))
    bottom = int(max(face.getbbox(ch)[3] for ch in "ỵgjyỵỹ|"))
    pad = max(2, SIZES[size] // 8)
    return top - pad, bottom - top + 2 * pad


def wrap(text: str, width: int, style: TextStyle = TextStyle()) -> list[str]:
    """Split text into lines that fit width dots (words first, long words by letters)."""
    face = font(style.size, style.bold)
    lines: list[str] = []
    for paragraph in unicodedata.normalize("NFC", text).split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if face.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for ch in word:
                if line and face.getlength(line + ch) > width:
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line)
    return lines


def render_line(text: str, width: int, style: TextStyle = TextStyle(), right: str = "") -> Image.Image:
    """Draw one line of text across width dots (and `right` flush right); return a mode "1" image."""
    if width <= 0 or width % 8:
        raise DeviceError(
            f"Độ rộng in {width} chấm phải là bội số dương của 8.",
            f"Print width {width} dots must be a positive multiple of 8.",
        )
    text = unicodedata.normalize("NFC", text)
    right = unicodedata.normalize("NFC", right)
    face = font(style.size, style.bold)
    top, height = line_box(style.size, style.bold)
    length = face.getlength(text)
    right_length = face.getlength(right)
    gap = face.getlength("  ") if right else 0
    if length + gap + right_length > width:
        raise DeviceError(
            f"Dòng chữ dài quá khổ giấy ({width} chấm): {text} {right}",
            f"Text line wider than the paper ({width} dots): {text} {right}",
        )
    x = {"left": 0.0, "center": (width - length) / 2, "right": width - length}[style.align]
    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    draw.text((int(x), -top), text, font=face, fill=0)
    if right:
        draw.text((int(width - right_length), -top), right, font=face, fill=0)
    return canvas.point(lambda v: 255 if v >= 128 else 0, mode="1")


def render_text(text: str, width: int, style: TextStyle = TextStyle()) -> list[Image.Image]:
    """Wrap text to width and draw each line."""
    return [render_line(line, width, style) for line in wrap(text, width, style)]


def is_blank(image: Image.Image) -> bool:
    """Return True when an image has no black dot."""
    return image.convert("L").getextrema()[0] == 255
