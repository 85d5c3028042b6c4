"""Inline SVG charts rendered on the server (no script, no external library), for the pages and
the stored reports alike: horizontal bars, a line over months and grouped bars. Each chart is
an accessible image (``role=img`` with a title) and the same numbers are printed beside it as
text or a table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: colours of the page palette (checked for AA contrast on white in the tests)
INK, MUTED, ACCENT, WARN, GRID = "#1f2933", "#52606d", "#0b5cad", "#b3261e", "#d9dee3"
SERIES = ("#0b5cad", "#b45309", "#2f7d32")


@dataclass(frozen=True)
class Bar:
    """One labelled bar; ``value`` in [0, ``maximum``]."""

    label: str
    value: float
    text: str
    highlight: bool = False


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    # drawn at its own size, never scaled down (labels stay 12-14 px on a phone): a narrow
    # screen scrolls the chart inside its frame, not the page
    t = escape(title)
    return Markup(f'<div class="chart-frame" role="region" aria-label="{t}" tabindex="0">'
                  f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
                  f'height="{height}" style="max-width:none" role="img" aria-label="{t}" '
                  f'xmlns="http://www.w3.org/2000/svg"><title>{t}</title>{"".join(body)}</svg>'
                  '</div>')


def hbars(bars: Sequence[Bar], *, title: str, maximum: float = 1.0, label_width: int = 130,
          width: int = 560, marks: Sequence[tuple[float, str]] = ()) -> Markup:
    """Horizontal bars, one row per bar, the value's text at the bar's end; ``marks`` are
    labelled vertical lines (thresholds, parity) at the given values."""
    row, plot = 30, width - label_width - 70
    top = 18 if marks else 0
    body = []
    for value, label in marks:
        x = label_width + max(0.0, min(1.0, value / maximum if maximum > 0 else 0)) * plot
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 2}" '
                    f'y2="{top + len(bars) * row + 4}" stroke="{MUTED}" stroke-dasharray="4 3"/>'
                    f'<text x="{x:.1f}" y="12" text-anchor="middle" fill="{INK}" '
                    f'font-size="12">{escape(label)}</text>')
    for i, b in enumerate(bars):
        y = top + i * row + 6
        w = 0 if maximum <= 0 else max(0.0, min(1.0, b.value / maximum)) * plot
        colour = WARN if b.highlight else ACCENT
        body.append(f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end" '
                    f'fill="{INK}" font-size="14">{escape(b.label)}</text>'
                    f'<rect x="{label_width}" y="{y}" width="{plot}" height="18" fill="{GRID}" '
                    f'opacity="0.45"/><rect x="{label_width}" y="{y}" width="{w:.1f}" '
                    f'height="18" fill="{colour}"/><text x="{label_width + w + 6:.1f}" '
                    f'y="{y + 14}" fill="{INK}" font-size="13">{escape(b.text)}</text>')
    return _svg(width, top + len(bars) * row + 8, title, body)


def line(points: Sequence[tuple[str, float]], *, title: str, width: int = 560,
         height: int = 180) -> Markup:
    """Values in [0, 1] over labelled steps (months), with gridlines at 0, 0.5 and 1."""
    left, right, top, bottom = 40, 36, 16, 30
    pw, ph = width - left - right, height - top - bottom
    n = len(points)
    body = []
    for g in (0.0, 0.5, 1.0):
        y = top + ph * (1 - g)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                    f'fill="{MUTED}" font-size="12">{g:.1f}</text>')
    xy = []
    for i, (label, v) in enumerate(points):
        x = left + (pw * (i / (n - 1)) if n > 1 else pw / 2)
        y = top + ph * (1 - max(0.0, min(1.0, v)))
        xy.append((x, y))
        body.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="{MUTED}" '
                    f'font-size="12">{escape(label)}</text>')
    if n > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        body.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" '
                    f'stroke-width="2.5"/>')
    for (x, y), (_, v) in zip(xy, points, strict=True):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{ACCENT}"/>'
                    f'<text x="{x:.1f}" y="{y - 9:.1f}" text-anchor="middle" fill="{INK}" '
                    f'font-size="12">{v:.2f}</text>')
    return _svg(width, height, title, body)


def grouped(groups: Sequence[tuple[str, Sequence[float]]], *, series: Sequence[str],
            title: str, width: int = 720, fmt: Callable[[float], str] = "{:g}".format,
            maximum: float | None = None) -> Markup:
    """Grouped horizontal bars: per group (street) one bar per series, with a legend; each
    value printed with ``fmt``, bars scaled to ``maximum`` (default: the largest value)."""
    label_width, bar, gap = 120, 12, 12
    plot = width - label_width - 70
    top = 28
    if maximum is None:
        maximum = max((v for _, vals in groups for v in vals), default=0) or 1
    body = []
    for j, name in enumerate(series):
        x = label_width + j * 150
        body.append(f'<rect x="{x}" y="6" width="14" height="14" fill="{SERIES[j]}"/>'
                    f'<text x="{x + 20}" y="18" fill="{INK}" font-size="13">{escape(name)}</text>')
    step = bar * len(series) + gap
    for i, (label, vals) in enumerate(groups):
        y0 = top + i * step
        body.append(f'<text x="{label_width - 8}" y="{y0 + step / 2:.1f}" text-anchor="end" '
                    f'fill="{INK}" font-size="13">{escape(label)}</text>')
        for j, v in enumerate(vals):
            w = max(0.0, min(1.0, v / maximum)) * plot
            y = y0 + j * bar
            body.append(f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar - 2}" '
                        f'fill="{SERIES[j]}"/><text x="{label_width + w + 4:.1f}" '
                        f'y="{y + bar - 3}" fill="{INK}" font-size="12">{escape(fmt(v))}</text>')
    return _svg(width, top + len(groups) * step + 6, title, body)


#: colours and dash patterns of the series of :func:`lines` (distinct without colour too)
LINE_SERIES = (("#0b5cad", ""), ("#b45309", "6 3"), ("#2f7d32", "2 3"), ("#6d28d9", "8 3 2 3"),
               ("#1f2933", "1 2"), ("#b3261e", ""))


def lines(steps: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
          title: str, width: int = 640, height: int = 220, offset: int = 0,
          fmt: Callable[[float], str] = "{:g}".format) -> Markup:
    """Counts over labelled steps (months), one line per series with a legend, scaled to the
    largest value; a missing value (None) breaks its line. Each line's last value is printed
    at its end (the table beside the chart holds the rest); ``offset``: the first series'
    place in :data:`LINE_SERIES` (charts side by side keep each series' colour)."""
    left, right, top, bottom = 48, 64, 30 + 18 * ((len(series) - 1) // 3), 28
    pw, ph = width - left - right, height - top - bottom
    top_value = max((v for _, vals in series for v in vals if v is not None), default=0) or 1
    n = len(steps)
    x = [left + (pw * i / (n - 1) if n > 1 else pw / 2) for i in range(n)]
    body = _legend([name for name, _ in series], left, offset)
    for g in (0.0, 0.5, 1.0):
        y = top + ph * (1 - g)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                    f'fill="{MUTED}" font-size="12">{escape(fmt(g * top_value))}</text>')
    every = max(1, -(-n // 6))  # at most about six month labels
    for i, label in enumerate(steps):
        if (n - 1 - i) % every == 0:
            body.append(f'<text x="{x[i]:.1f}" y="{height - 8}" text-anchor="middle" '
                        f'fill="{MUTED}" font-size="12">{escape(label)}</text>')
    ends = []
    for j, (_, vals) in enumerate(series):
        colour, dash = LINE_SERIES[(j + offset) % len(LINE_SERIES)]
        pts = [(x[i], top + ph * (1 - v / top_value), v) for i, v in enumerate(vals)
               if v is not None]
        for r in _runs([None if v is None else (x[i], top + ph * (1 - v / top_value))
                        for i, v in enumerate(vals)]):
            if len(r) > 1:
                body.append(f'<polyline points="{" ".join(r)}" fill="none" stroke="{colour}" '
                            f'stroke-width="2" stroke-dasharray="{dash}"/>')
        for px, py, _ in pts:
            body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>')
        if pts:
            ends.append((pts[-1][1], pts[-1][0], pts[-1][2], colour))
    floor = -1e9
    for py, px, v, colour in sorted(ends):  # last values, nudged apart to stay legible
        floor = max(py, floor + 12)
        body.append(f'<text x="{px + 6:.1f}" y="{floor + 4:.1f}" fill="{colour}" '
                    f'font-size="11">{escape(fmt(v))}</text>')
    return _svg(width, height, title, body)


def _legend(names: Sequence[str], left: int, offset: int) -> list[str]:
    """The legend of :func:`lines`: three series a row, each its colour and dash."""
    out = []
    for j, name in enumerate(names):
        colour, dash = LINE_SERIES[(j + offset) % len(LINE_SERIES)]
        lx, ly = left + (j % 3) * 130, 14 + 18 * (j // 3)
        out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{ly - 4}" y2="{ly - 4}" '
                   f'stroke="{colour}" stroke-width="2.5" stroke-dasharray="{dash}"/>'
                   f'<text x="{lx + 28}" y="{ly}" fill="{INK}" font-size="12">'
                   f'{escape(name)}</text>')
    return out


def _runs(points: Sequence[tuple[float, float] | None]) -> list[list[str]]:
    """The unbroken runs of a line's points (a None breaks it), as SVG coordinates."""
    runs: list[list[str]] = [[]]
    for p in points:
        if p is None:
            runs.append([])
        else:
            runs[-1].append(f"{p[0]:.1f},{p[1]:.1f}")
    return runs
