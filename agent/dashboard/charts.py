"""Small inline SVG charts: readable on a laptop, printable, no JavaScript."""

from __future__ import annotations

from datetime import datetime
from html import escape

from markupsafe import Markup


def bars(values: list[tuple[str, float]], unit: str = "days", width: int = 560) -> Markup:
    """Horizontal bars, one per label (time in stage)."""
    if not values:
        return Markup('<p class="empty">Nothing to show yet.</p>')
    top = max(v for _, v in values) or 1.0
    row, label_w = 26, 170
    height = row * len(values) + 10
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for i, (label, value) in enumerate(values):
        y = 5 + i * row
        w = (width - label_w - 70) * value / top
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" rx="3"></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{value:.1f} {unit}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def scores(points: list[tuple[datetime, int]], width: int = 560, height: int = 180) -> Markup:
    """CSAT answers over time: a dot per answer (the scale as clients answered, up to 10)."""
    if not points:
        return Markup('<p class="empty">No survey answers yet.</p>')
    left, bottom, top_pad = 36, 28, 10
    scale = 10 if max(s for _, s in points) > 5 else 5
    first, last = points[0][0], points[-1][0]
    span = max((last - first).total_seconds(), 1.0)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
    ]
    for tick in range(0, scale + 1, 1 if scale == 5 else 2):
        y = height - bottom - (height - bottom - top_pad) * tick / scale
        parts.append(f'<line class="grid" x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}"></line>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for when, score in points:
        x = left + 10 + (width - left - 20) * (when - first).total_seconds() / span
        y = height - bottom - (height - bottom - top_pad) * score / scale
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5"><title>{when:%Y-%m-%d}: {score}</title></circle>'
        )
    parts.append(f'<text x="{left}" y="{height - 6}">{first:%d %b %Y}</text>')
    parts.append(f'<text x="{width}" y="{height - 6}" text-anchor="end">{last:%d %b %Y}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
