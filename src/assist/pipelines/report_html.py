"""HTML rendering of the reports: one self-contained page each, charts as inline SVG drawn
here on the server (no scripts, no CDN), tables from plain records. Jinja2 autoescapes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child,th.l,td.l{text-align:left}
.flag{background:#fde2e1}.note{background:#f4f4f4;padding:.75rem;border-left:4px solid #555}
svg{margin:.5rem 0}
</style></head><body>
<h1>{{ title }}</h1>
{% for p in intro %}<p class="note">{{ p }}</p>{% endfor %}
{% for s in sections %}
<h2>{{ s.heading }}</h2>
{% if s.text %}<p>{{ s.text }}</p>{% endif %}
{% if s.chart %}{{ s.chart }}{% endif %}
{% if s.rows %}<table><thead><tr>{% for c in s.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for r in s.rows %}<tr{% if r.get('_flag') %} class="flag"{% endif %}>
{% for c in s.columns %}<td>{{ fmt(r.get(c)) }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>{% endif %}
{% endfor %}
</body></html>
"""


@dataclass(frozen=True)
class Bar:
    """One bar: label, value, optional interval and whether it is flagged."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    flagged: bool = False


def fmt(v: Any) -> str:
    """A cell: ``undefined`` for missing, 3 decimals for fractions, thousands for counts."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "undefined"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.3f}"
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v))
    return str(v)


def bar_chart(bars: Sequence[Bar], *, title: str, lines: Sequence[tuple[float, str]] = (),
              band: tuple[float, float] | None = None, width: int = 640) -> Markup:
    """Horizontal bar chart as inline SVG; ``lines`` are labelled reference lines, ``band`` a
    shaded interval (e.g. the 0.8-1.25 parity band); undefined values are written out."""
    row, left, right, top = 18, 190, 60, 24
    values = [v for b in bars for v in (b.value, b.high) if v is not None and math.isfinite(v)]
    values += [x for x, _ in lines] + (list(band) if band else [])
    vmax = max([*values, 1e-9]) * 1.05
    plot = width - left - right
    height = top + row * len(bars) + 20

    def x(v: float) -> float:
        return left + plot * max(0.0, min(v, vmax)) / vmax

    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'role="img" aria-label="{escape(title)}">'),
             f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(title)}</text>']
    if band:
        parts.append(f'<rect x="{x(band[0]):.1f}" y="{top - 4}" width="{x(band[1]) - x(band[0]):.1f}" '
                     f'height="{row * len(bars) + 4}" fill="#e6f2e6"/>')
    for i, b in enumerate(bars):
        y = top + i * row
        parts.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">'
                     f'{escape(b.label[:32])}</text>')
        if b.value is None or not math.isfinite(b.value):
            parts.append(f'<text x="{left + 4}" y="{y + 12}" font-size="11" fill="#888">'
                         'undefined</text>')
            continue
        colour = "#c0392b" if b.flagged else "#4a78a8"
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{x(b.value) - left:.1f}" '
                     f'height="{row - 6}" fill="{colour}"/>')
        if b.low is not None and b.high is not None:
            parts.append(f'<line x1="{x(b.low):.1f}" x2="{x(b.high):.1f}" y1="{y + 8}" '
                         f'y2="{y + 8}" stroke="#222" stroke-width="1.2"/>')
        parts.append(f'<text x="{x(b.value) + 4:.1f}" y="{y + 12}" font-size="10">'
                     f'{b.value:.3f}</text>')
    for v, label in lines:
        parts.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top - 4}" '
                     f'y2="{top + row * len(bars)}" stroke="#888" stroke-dasharray="3,3"/>'
                     f'<text x="{x(v) + 2:.1f}" y="{height - 6}" font-size="10">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def page(title: str, *, intro: Sequence[str], sections: Sequence[dict[str, Any]]) -> str:
    """A complete HTML page; each section has ``heading`` and optional ``text``, ``chart``
    (from :func:`bar_chart`), ``columns`` and ``rows`` (records; ``_flag`` highlights)."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(_PAGE).render(title=title, intro=intro, sections=sections, fmt=fmt)


def num(v: Any) -> float | None:
    """A number for JSON and charts: None for missing."""
    return None if v is None or pd.isna(v) else float(v)


def interval(lo: Any, hi: Any) -> str:
    """``low-high`` to 3 decimals, or ``undefined``."""
    return "undefined" if lo is None or pd.isna(lo) else f"{lo:.3f}-{hi:.3f}"
