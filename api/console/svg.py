"""Small inline-SVG charts for the report pages: no JavaScript, no CDN, readable when printed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup

COLOUR = "#1f6feb"
GRID = "#e3e6eb"


def bars(items: Sequence[tuple[str, float | None]], *, unit: str = "", max_value: float | None = None,
         title: str = "", no_data: str = "no data") -> Markup:
    """Horizontal bars, one per (label, value); None is drawn as ``no_data`` (in the reader's language)."""
    row, label_w, width = 22, 150, 560
    height = row * max(1, len(items)) + 10
    top = max_value if max_value is not None else max([v for _, v in items if v is not None] or [1]) or 1
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(str(label))[:28]}</text>')
        if value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 14}">{escape(no_data)}</text>')
            continue
        w = max(1.0, (width - label_w - 70) * float(value) / top)
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{COLOUR}" rx="2"/>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{_fmt(value)}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line(series: Sequence[tuple[date, float | None]], *, unit: str = "", y_min: float = 0,
         y_max: float | None = None, title: str = "") -> Markup:
    """A line over time; gaps where a bucket has no data."""
    width, height, left, bottom, top_pad = 560, 200, 40, 24, 10
    values = [v for _, v in series if v is not None]
    hi = y_max if y_max is not None else (max(values) if values else 1) or 1
    lo = y_min
    n = max(1, len(series) - 1)
    plot_w, plot_h = width - left - 10, height - bottom - top_pad

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top_pad + plot_h * (1 - (v - lo) / ((hi - lo) or 1))

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for frac in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(lo + (hi - lo) * frac)}</text>')
    path: list[str] = []
    for i, (_, v) in enumerate(series):
        if v is None:
            if path:
                parts.append(f'<polyline fill="none" stroke="{COLOUR}" stroke-width="2" points="{" ".join(path)}"/>')
            path = []
            continue
        x, y = xy(i, v)
        path.append(f"{x:.1f},{y:.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOUR}"><title>{series[i][0]}: '
                     f"{_fmt(v)}{escape(unit)}</title></circle>")
    if path:
        parts.append(f'<polyline fill="none" stroke="{COLOUR}" stroke-width="2" points="{" ".join(path)}"/>')
    if series:
        parts.append(f'<text x="{left}" y="{height - 6}">{series[0][0].isoformat()}</text>')
        parts.append(f'<text x="{width - 10}" y="{height - 6}" text-anchor="end">{series[-1][0].isoformat()}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.1f}"
