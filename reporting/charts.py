"""Tiny, dependency-free SVG charts rendered on the server.

Each renderer returns one ``<svg role="img">`` string with a ``<title>`` and a
``<desc>`` (named by ``aria-labelledby``), so a screen reader announces what the
chart shows; the page puts a table with the same numbers right after it. All text
is escaped here, which is why templates may include the markup with ``|safe``.
Colours come from classes styled in ``static/css/app.css`` (the CSP forbids
inline styles); presentation attributes are only fallbacks.

Values are integers (minor units, counts, basis points); the caller passes the
text to show for each value, so this module knows nothing about money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape

FONT = 12
LABEL_CHARS = 22


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str  # the value as people read it, e.g. "1,250.00"
    hint: str = ""  # a longer tooltip, e.g. the full date


@dataclass(frozen=True)
class Group:
    label: str
    values: Sequence[int]
    texts: Sequence[str]


def _n(x: float) -> str:
    """Coordinates with one decimal: short markup, no float noise."""
    return f"{x:.1f}".removesuffix(".0")


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(chart_id: str, title: str, desc: str, width: int, height: int, kind: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg chart-{kind}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'font-size="{FONT}" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def _height(value: int, top: int, plot: float) -> float:
    return 0.0 if value <= 0 or top <= 0 else plot * value / top


def _tip(label: str, text: str, hint: str = "") -> str:
    return f"<title>{escape(hint or label)}: {escape(text)}</title>"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    bars: Sequence[Bar],
    width: int = 640,
    height: int = 220,
    label_every: int = 1,
    show_values: bool | None = None,
) -> str:
    """Vertical bars with labels under them (every ``label_every``-th one) and,
    when there is room, the value above each bar. Negative values draw no bar."""
    out = _open(chart_id, title, desc, width, height, "bars")
    left, right, top_pad, bottom = 8, 8, 22, 24
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max((b.value for b in bars), default=0)
    show_values = len(bars) <= 12 if show_values is None else show_values
    slot = plot_w / max(len(bars), 1)
    base_y = top_pad + plot_h
    out.append(
        f'<line class="chart-axis" x1="{left}" y1="{_n(base_y)}" x2="{width - right}" y2="{_n(base_y)}" stroke="currentColor"/>'
    )
    if not show_values and top > 0:
        text = next(b.text for b in bars if b.value == top)
        out.append(
            f'<line class="chart-grid" x1="{left}" y1="{top_pad}" x2="{width - right}" y2="{top_pad}" stroke="currentColor" stroke-dasharray="3 3"/>'
        )
        out.append(f'<text class="chart-note" x="{left}" y="{top_pad - 6}">max {escape(text)}</text>')
    for i, bar in enumerate(bars):
        h = _height(bar.value, top, plot_h)
        x = left + i * slot + slot * 0.15
        cx = left + i * slot + slot / 2
        out.append(
            f'<rect class="chart-bar" x="{_n(x)}" y="{_n(base_y - h)}" width="{_n(slot * 0.7)}" height="{_n(h)}" fill="currentColor">'
            f"{_tip(bar.label, bar.text, bar.hint)}</rect>"
        )
        if show_values:
            out.append(
                f'<text class="chart-value" x="{_n(cx)}" y="{_n(base_y - h - 5)}" text-anchor="middle">{escape(bar.text)}</text>'
            )
        if i % max(label_every, 1) == 0:
            out.append(
                f'<text class="chart-label" x="{_n(cx)}" y="{height - 8}" text-anchor="middle">{escape(_short(bar.label, 12))}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def grouped_bars(
    *,
    chart_id: str,
    title: str,
    desc: str,
    series: Sequence[str],
    groups: Sequence[Group],
    width: int = 640,
    height: int = 240,
) -> str:
    """Bars side by side per group (e.g. last month next to this month), with a
    legend. Series ``i`` is drawn with class ``chart-series-i``."""
    out = _open(chart_id, title, desc, width, height, "grouped")
    left, right, top_pad, bottom, legend_h = 8, 8, 22, 24, 22
    plot_top = top_pad + legend_h
    plot_w, plot_h = width - left - right, height - plot_top - bottom
    base_y = plot_top + plot_h
    top = max((v for g in groups for v in g.values), default=0)
    x = left
    for s, name in enumerate(series):
        out.append(f'<rect class="chart-series-{s}" x="{x}" y="4" width="12" height="12" fill="currentColor"/>')
        out.append(f'<text class="chart-label" x="{x + 16}" y="14">{escape(name)}</text>')
        x += 24 + 8 * len(name)
    out.append(
        f'<line class="chart-axis" x1="{left}" y1="{_n(base_y)}" x2="{width - right}" y2="{_n(base_y)}" stroke="currentColor"/>'
    )
    slot = plot_w / max(len(groups), 1)
    inner = slot * 0.8 / max(len(series), 1)
    for g, group in enumerate(groups):
        start = left + g * slot + slot * 0.1
        for s, (value, text) in enumerate(zip(group.values, group.texts, strict=True)):
            h = _height(value, top, plot_h)
            bx = start + s * inner
            name = series[s] if s < len(series) else ""
            out.append(
                f'<rect class="chart-series-{s}" x="{_n(bx + inner * 0.05)}" y="{_n(base_y - h)}" width="{_n(inner * 0.9)}" '
                f'height="{_n(h)}" fill="currentColor">{_tip(f"{group.label}, {name}", text)}</rect>'
            )
            out.append(
                f'<text class="chart-value" x="{_n(bx + inner / 2)}" y="{_n(base_y - h - 5)}" text-anchor="middle">{escape(text)}</text>'
            )
        out.append(
            f'<text class="chart-label" x="{_n(left + g * slot + slot / 2)}" y="{height - 8}" text-anchor="middle">{escape(_short(group.label, 40))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def horizontal_bars(
    *,
    chart_id: str,
    title: str,
    desc: str,
    bars: Sequence[Bar],
    width: int = 640,
    row_height: int = 28,
) -> str:
    """One labelled row per bar (aging buckets, clients), value text after the bar."""
    label_w, pad = 150, 6
    # Room after the longest bar for its text (about 7 units per character at FONT).
    value_w = min(width // 2, max(48, 7 * max((len(b.text) for b in bars), default=0) + 12))
    height = max(len(bars), 1) * row_height + 2 * pad
    out = _open(chart_id, title, desc, width, height, "hbars")
    plot_w = width - label_w - value_w
    top = max((b.value for b in bars), default=0)
    for i, bar in enumerate(bars):
        y = pad + i * row_height
        w = _height(bar.value, top, plot_w)
        mid = y + row_height / 2 + FONT / 3
        out.append(
            f'<text class="chart-label" x="{label_w - 8}" y="{_n(mid)}" text-anchor="end">{escape(_short(bar.label))}</text>'
        )
        out.append(
            f'<rect class="chart-bar" x="{label_w}" y="{_n(y + row_height * 0.2)}" width="{_n(w)}" height="{_n(row_height * 0.6)}" '
            f'fill="currentColor">{_tip(bar.label, bar.text, bar.hint)}</rect>'
        )
        out.append(f'<text class="chart-value" x="{_n(label_w + w + 6)}" y="{_n(mid)}">{escape(bar.text)}</text>')
    out.append(
        f'<line class="chart-axis" x1="{label_w}" y1="{pad}" x2="{label_w}" y2="{height - pad}" stroke="currentColor"/>'
    )
    out.append("</svg>")
    return "".join(out)
