"""The 12-month usage chart: a real PNG with one bar per month, the latest month highlighted."""

from __future__ import annotations

import io

from PIL import Image

from core import charts
from db.enums import Utility

LEFT, RIGHT, BOTTOM = 90, charts.WIDTH - 30, charts.HEIGHT - 70


def bar_pixel(img: Image.Image, i: int, n: int = 12) -> tuple[int, int, int]:
    slot = (RIGHT - LEFT) / n
    return img.getpixel((int(LEFT + i * slot + slot / 2), BOTTOM - 3))


def draw(values: list[float], lang: str = "zh_Hans", utility: Utility = Utility.water) -> Image.Image:
    months = [(2025 + (10 + i) // 12, (10 + i) % 12 + 1, v) for i, v in enumerate(values)]
    png = charts.usage_chart_png(months, utility=utility, lang=lang, title="用水量", latin_title="Water use",
                                 unit="立方米", latin_unit="m³", avg_label="平均")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_one_bar_per_month_latest_highlighted() -> None:
    values = [12.0, 0.0, 18.5, 20.0, 9.0, 0.0, 14.0, 16.0, 30.0, 22.0, 19.0, 0.0]  # the last month not billed yet
    img = draw(values)
    assert img.size == (charts.WIDTH, charts.HEIGHT)
    white = (255, 255, 255)
    for i, v in enumerate(values):
        pixel = bar_pixel(img, i)
        assert (pixel == white) is (v == 0), (i, v, pixel)
    assert bar_pixel(img, 10) == charts.COLOURS[Utility.water]  # the month just billed, full colour
    assert bar_pixel(img, 9) != charts.COLOURS[Utility.water]  # earlier months lighter


def test_empty_history_and_other_utilities_still_draw() -> None:
    img = draw([0.0] * 12, lang="en", utility=Utility.power)
    assert all(bar_pixel(img, i) == (255, 255, 255) for i in range(12))
    img = draw([1200.0] * 12, utility=Utility.gas)
    assert bar_pixel(img, 11) == charts.COLOURS[Utility.gas]


def test_without_a_cjk_font_labels_fall_back_to_latin(monkeypatch) -> None:
    assert charts.month_label(2026, 3, "zh_Hans", cjk=True) == "3月"
    assert charts.month_label(2026, 3, "zh_Hans", cjk=False) == "03"
    assert charts.month_label(2026, 3, "en", cjk=True) == "Mar"
    monkeypatch.setattr(charts, "cjk_font_path", lambda: None)
    img = draw([5.0] * 12)  # Chinese title swapped for the Latin one instead of tofu boxes
    assert bar_pixel(img, 11) == charts.COLOURS[Utility.water]
