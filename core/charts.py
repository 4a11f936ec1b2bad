"""The 12-month usage chart sent with the balance view, drawn with Pillow (PNG bytes, no Telegram types).

Chinese labels need a CJK font: WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``) when present. Without
one the chart falls back to Latin-only labels (month numbers, the caller's Latin title) rather than
printing empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from db.enums import Utility

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
LATIN_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
)
COLOURS = {Utility.gas: (230, 126, 34), Utility.water: (41, 128, 185), Utility.power: (241, 196, 15)}
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WIDTH, HEIGHT = 960, 540


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    return next((p for p in CJK_FONTS if p.exists()), None)


@lru_cache(maxsize=16)
def _font(size: int, cjk: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    candidates = ([cjk_font_path()] if cjk else []) + list(LATIN_FONTS)
    for path in candidates:
        if path is not None and path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def month_label(year: int, month: int, lang: str | None, cjk: bool) -> str:
    if (lang or "").startswith("en") or not cjk:
        return EN_MONTHS[month - 1] if (lang or "").startswith("en") else f"{month:02d}"
    return f"{month}月"


def _nice_step(top: float) -> float:
    """A round grid step giving 4–6 lines up to ``top``."""
    if top <= 0:
        return 1.0
    raw = top / 5
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * magnitude:
            return mult * magnitude
    return 10 * magnitude


def usage_chart_png(
    months: Sequence[tuple[int, int, float]],
    *,
    utility: Utility,
    lang: str | None,
    title: str,
    latin_title: str,
    unit: str,
    latin_unit: str,
    avg_label: str = "avg",
) -> bytes:
    """A bar chart of monthly use. ``months`` = (year, month, usage in units), oldest first.

    ``title``/``unit`` are in the reader's language; ``latin_*`` are used when no CJK font is installed.
    """
    cjk = cjk_font_path() is not None
    if not (title + unit + avg_label).isascii() and not cjk:
        title, unit, avg_label = latin_title, latin_unit, "avg"
    img = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    f_title, f_label, f_small = _font(30, cjk), _font(20, cjk), _font(17, cjk)
    colour = COLOURS[utility]

    left, right, top, bottom = 90, WIDTH - 30, 80, HEIGHT - 70
    draw.text((left, 22), title, fill=(33, 33, 33), font=f_title)
    draw.text((right, 34), unit, fill=(110, 110, 110), font=f_small, anchor="ra")

    values = [max(0.0, v) for _y, _m, v in months]
    peak = max(values, default=0.0)
    step = _nice_step(peak)
    grid_top = step * max(1, -(-peak // step)) if peak > 0 else step * 5
    scale = (bottom - top) / grid_top
    y = 0.0
    while y <= grid_top + 1e-9:
        py = bottom - y * scale
        draw.line((left, py, right, py), fill=(225, 225, 225), width=1)
        draw.text((left - 10, py), f"{y:g}", fill=(120, 120, 120), font=f_small, anchor="rm")
        y += step
    draw.line((left, bottom, right, bottom), fill=(150, 150, 150), width=2)

    n = max(1, len(values))
    slot = (right - left) / n
    bar = slot * 0.62
    nonzero = [v for v in values if v > 0]
    latest = max((i for i, v in enumerate(values) if v > 0), default=-1)  # the month just billed
    for i, ((year, month, _), value) in enumerate(zip(months, values, strict=True)):
        x0 = left + i * slot + (slot - bar) / 2
        shade = colour if i == latest else tuple(int(c + (255 - c) * 0.35) for c in colour)
        if value > 0:
            draw.rectangle((x0, bottom - value * scale, x0 + bar, bottom - 1), fill=shade)
            draw.text((x0 + bar / 2, bottom - value * scale - 4), f"{value:.0f}", fill=(70, 70, 70),
                      font=f_small, anchor="mb")
        label = month_label(year, month, lang, cjk)
        draw.text((x0 + bar / 2, bottom + 10), label, fill=(60, 60, 60), font=f_label, anchor="ma")
        if month == 1 or i == 0:
            draw.text((x0 + bar / 2, bottom + 36), str(year), fill=(140, 140, 140), font=f_small, anchor="ma")
    if nonzero:
        avg = sum(nonzero) / len(nonzero)
        py = bottom - avg * scale
        for x in range(left, right, 14):
            draw.line((x, py, min(x + 7, right), py), fill=(192, 57, 43), width=2)
        text = f"{avg_label} {avg:.1f}"
        box = draw.textbbox((right - 4, py - 6), text, font=f_small, anchor="rb")
        # A white label box: readable even where the line crosses a bar.
        draw.rounded_rectangle((box[0] - 6, box[1] - 3, box[2] + 4, box[3] + 3), radius=4, fill=(255, 255, 255),
                               outline=(192, 57, 43))
        draw.text((right - 4, py - 6), text, fill=(192, 57, 43), font=f_small, anchor="rb")

    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()
