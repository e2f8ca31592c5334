"""Small charts as inline SVG that take the page's width: no JavaScript, readable on a phone.

The words and figures are HTML beside the drawing, not text inside it: an SVG stretched to the
width would stretch its text too (tiny on a phone, huge on a wide screen). The drawing itself is
scaled without keeping its aspect (preserveAspectRatio="none"), its lines and dots keep their
size (vector-effect, in the style sheet), so one chart fits every width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

# the drawing's own units: x runs 0..WIDE whatever the page's width, y 0..TALL top to bottom
WIDE, TALL = 1000, 100


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as the reader reads it, e.g. "2.5 days · 4 deals"


def bars(values: list[Bar], caption: str) -> Markup:
    """Horizontal bars, one per label (time in stage), each as long as its value against the largest."""
    if not values:
        return Markup(f'<p class="empty">{escape(caption)}: nothing to show for this period.</p>')
    top = max(b.value for b in values) or 1.0
    items = "".join(
        f'<li><span class="label">{escape(b.label)}</span>'
        f'<svg class="bar" viewBox="0 0 {WIDE} 10" preserveAspectRatio="none" aria-hidden="true">'
        f'<rect width="{max(WIDE * b.value / top, 2):.1f}" height="10"></rect></svg>'
        f'<span class="value">{escape(b.text)}</span></li>'
        for b in values
    )
    return Markup(
        f'<figure class="chart bars"><figcaption>{escape(caption)}</figcaption><ul>{items}</ul></figure>'
    )


def scores(
    points: list[tuple[datetime, int]],
    since: datetime,
    until: datetime,
    day: Callable[[datetime], str],
    caption: str,
) -> Markup:
    """Survey answers over the period: a dot per answer at its time and score (the scale as clients
    answered it: 5, or 10 when an answer is above 5). `day` writes a date as the reader reads it."""
    if not points:
        return Markup(f'<p class="empty">{escape(caption)}: no survey answers in this period.</p>')
    scale = 10 if max(s for _, s in points) > 5 else 5
    ticks = list(range(scale, -1, -1 if scale == 5 else -2))
    span = max((until - since).total_seconds(), 1.0)
    grid = "".join(
        f'<line class="grid" x1="0" x2="{WIDE}" y1="{_y(t, scale)}" y2="{_y(t, scale)}"></line>'
        for t in ticks
    )
    dots = "".join(
        # a line of no length with round ends is a dot that stays round when the drawing stretches
        f'<line class="dot" x1="{x:.1f}" x2="{x:.1f}" y1="{_y(s, scale)}" y2="{_y(s, scale)}">'
        f"<title>{escape(day(when))}: {s}</title></line>"
        for when, s in points
        for x in [WIDE * min(max((when - since).total_seconds() / span, 0.0), 1.0)]
    )
    said = ", ".join(f"{s} on {day(when)}" for when, s in points)
    return Markup(
        '<figure class="chart scores">'
        f"<figcaption>{escape(caption)}</figcaption>"
        '<div class="plot"><div class="ticks" aria-hidden="true">'
        + "".join(f"<span>{t}</span>" for t in ticks)
        + f'</div><svg viewBox="0 0 {WIDE} {TALL}" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(f"Answers out of {scale}: {said}")}">{grid}{dots}</svg></div>'
        f'<div class="axis" aria-hidden="true"><span>{escape(day(since))}</span>'
        f"<span>{escape(day(until))}</span></div></figure>"
    )


def _y(score: int, scale: int) -> str:
    return f"{TALL * (1 - score / scale):.1f}"
