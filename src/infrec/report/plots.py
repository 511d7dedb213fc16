"""Charts as inline SVG, written here by hand: the report must open offline and the web pages may run
no third-party script, so no plotting library, CDN or canvas. Pure: data in, markup out.

Every chart carries its axes with units, its legend and a native tooltip (`<title>`) per point; a
series is told apart by its marker shape and line dash as well as its colour, so a greyscale print
or a colour-blind reader loses nothing. Each plotted point is an element of class `pt` with a
`data-key` naming what it stands for (e.g. `s1-t3`: step 1, trial 3), so tests can count points
against the stored trials."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

# Okabe–Ito: distinguishable with the common colour-vision deficiencies; shapes and dashes carry the
# identity as well, for greyscale.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("circle", "square", "triangle", "diamond", "cross", "triangle-down", "plus", "star")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 2 1 2", "3 6")

WIDTH, HEIGHT = 640.0, 340.0
LEFT, RIGHT, TOP, BOTTOM = 88.0, 34.0, 16.0, 56.0


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    tip: str                                     # tooltip text, plain (escaped when drawn)
    key: str = ""                                # what the point stands for (data-key)
    x_err: tuple[float, float] | None = None     # (low, high) on x
    y_err: tuple[float, float] | None = None
    faded: bool = False                          # drawn lighter and left off the line (a failed trial)
    label: str = ""                              # text written beside the point


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]
    style: int = 0                               # index into COLOURS/MARKERS/DASHES
    line: bool = True                            # join the points (sorted by x)
    hollow: bool = False


@dataclass(frozen=True)
class Rule:
    """A horizontal (`axis="y"`) or vertical (`axis="x"`) line at `value`, with an optional band
    (a confidence interval) shaded behind it."""

    axis: str
    value: float
    label: str
    band: tuple[float, float] | None = None


@dataclass
class Chart:
    plot_id: str
    x_label: str
    y_label: str
    series: list[Series]
    rules: list[Rule] = field(default_factory=list)
    front: list[tuple[float, float]] = field(default_factory=list)   # Pareto front, drawn as a step line
    front_label: str = "Pareto front"
    ring: tuple[float, float, str] | None = None                     # (x, y, label): the recommendation
    x_zero: bool = True                                              # axes start at 0
    y_zero: bool = True
    y_max: float | None = None                                       # at least this high (e.g. 100 %)
    description: str = ""                                            # for screen readers (aria-label)
    # Scale y to the trials that passed when a failed one lies far above them (> 2× their highest):
    # it is then drawn on the top edge, its tooltip giving its value, so one overloaded trial does
    # not flatten the curve people came to read.
    clip_faded: bool = False


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 × 10^k."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks: list[float] = []
    v = first
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(v, 12))
    return ticks


def tick_text(v: float) -> str:
    """A tick label: thousands separated, no trailing zeros, k/M for large values."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1_000:
        return f"{v / 1e3:g}k"
    if a >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _f(v: float) -> str:
    return f"{v:.1f}"


def marker(shape: str, x: float, y: float, r: float, colour: str, hollow: bool) -> str:
    """The markup of one marker centred at (x, y): a filled or hollow shape."""
    fill = "#fff" if hollow else colour
    common = f'fill="{fill}" stroke="{colour}" stroke-width="1.6"'
    if shape == "circle":
        return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" {common}/>'
    if shape == "square":
        s = r * 0.9
        return f'<rect x="{_f(x - s)}" y="{_f(y - s)}" width="{_f(2 * s)}" height="{_f(2 * s)}" {common}/>'
    if shape in ("triangle", "triangle-down"):
        up = 1 if shape == "triangle" else -1
        pts: list[tuple[float, float]] = [(x, y - up * r * 1.15), (x - r * 1.05, y + up * r * 0.75),
                                          (x + r * 1.05, y + up * r * 0.75)]
    elif shape == "diamond":
        pts = [(x, y - r * 1.25), (x + r, y), (x, y + r * 1.25), (x - r, y)]
    elif shape == "star":
        pts = []
        for i in range(10):
            a = math.pi / 2 + i * math.pi / 5
            rr = r * 1.3 if i % 2 == 0 else r * 0.55
            pts.append((x + rr * math.cos(a), y - rr * math.sin(a)))
    else:   # cross, plus: strokes only, always visible in greyscale
        s = r
        if shape == "cross":
            path = f"M{_f(x - s)},{_f(y - s)}L{_f(x + s)},{_f(y + s)}M{_f(x - s)},{_f(y + s)}L{_f(x + s)},{_f(y - s)}"
        else:
            path = (f"M{_f(x - s * 1.2)},{_f(y)}L{_f(x + s * 1.2)},{_f(y)}"
                    f"M{_f(x)},{_f(y - s * 1.2)}L{_f(x)},{_f(y + s * 1.2)}")
        return f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.4"/>'
    return f'<polygon points="{" ".join(f"{_f(a)},{_f(b)}" for a, b in pts)}" {common}/>'


def legend_swatch(style: int, hollow: bool = False, line: bool = True) -> str:
    """A small SVG showing a series' marker and dash, for an HTML legend."""
    c, m, d = COLOURS[style % len(COLOURS)], MARKERS[style % len(MARKERS)], DASHES[style % len(DASHES)]
    stroke = (f'<line x1="2" y1="8" x2="34" y2="8" stroke="{c}" stroke-width="1.8"'
              + (f' stroke-dasharray="{d}"' if d else "") + "/>") if line else ""
    return (f'<svg class="sw" width="36" height="16" viewBox="0 0 36 16" aria-hidden="true">{stroke}'
            f"{marker(m, 18, 8, 4.2, c, hollow)}</svg>")


def legend(chart: Chart, clipped: bool = False) -> str:
    items = [f"<li>{legend_swatch(s.style, s.hollow, s.line)}{escape(s.name)}</li>" for s in chart.series]
    if clipped:
        items.append('<li><svg class="sw" width="36" height="16" viewBox="0 0 36 16" aria-hidden="true">'
                     '<line x1="2" y1="3" x2="34" y2="3" stroke="#999"/><g opacity="0.45">'
                     f'{marker("circle", 18, 4, 4.2, COLOURS[0], False)}</g></svg>'
                     "on the top edge: a failed trial above the scale</li>")
    for r in chart.rules:
        dash = "5 4" if r.axis == "y" else ""
        band = ('<rect x="2" y="2" width="32" height="12" fill="#888" fill-opacity="0.18"/>' if r.band else "")
        items.append(f'<li><svg class="sw" width="36" height="16" viewBox="0 0 36 16" aria-hidden="true">{band}'
                     f'<line x1="2" y1="8" x2="34" y2="8" stroke="#444" stroke-width="1.6"'
                     + (f' stroke-dasharray="{dash}"' if dash else "") + f"/></svg>{escape(r.label)}</li>")
    if len(chart.front) > 1:
        items.append('<li><svg class="sw" width="36" height="16" viewBox="0 0 36 16" aria-hidden="true">'
                     '<path d="M2,13H14V3H34" fill="none" stroke="#222" stroke-width="2.4" stroke-opacity="0.55"/>'
                     f"</svg>{escape(chart.front_label)}</li>")
    if chart.ring:
        items.append('<li><svg class="sw" width="36" height="16" viewBox="0 0 36 16" aria-hidden="true">'
                     '<circle cx="18" cy="8" r="6.5" fill="none" stroke="#000" stroke-width="2"/></svg>'
                     f"{escape(chart.ring[2])}</li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


def _range(values: list[float], zero: bool, at_least: float | None = None) -> tuple[float, float]:
    vals = [v for v in values if math.isfinite(v)]
    if at_least is not None:
        vals.append(at_least)
    if not vals:
        return 0.0, 1.0
    lo, hi = min(vals), max(vals)
    if zero:
        lo = min(lo, 0.0)
    if hi == lo:
        hi = lo + (abs(lo) or 1.0)
    pad = (hi - lo) * 0.06
    top = hi if at_least is not None and hi == at_least else hi + pad   # a 100 % scale ends at 100
    return (lo if zero and lo >= 0 else lo - pad), top


def render(chart: Chart) -> str:
    """The chart as one `<figure>`: an SVG (scaled to the width of its box) and an HTML legend."""
    xs: list[float] = []
    ys: list[float] = []
    for s in chart.series:
        for p in s.points:
            xs += [p.x, *(p.x_err or ())]
            ys += [p.y, *(p.y_err or ())]
    for r in chart.rules:
        (xs if r.axis == "x" else ys).extend([r.value, *(r.band or ())])
    x0, x1 = _range(xs, chart.x_zero)
    clipped = False
    if chart.clip_faded:
        kept = [v for s in chart.series for p in s.points if not p.faded for v in (p.y, *(p.y_err or ()))]
        kept += [v for r in chart.rules if r.axis == "y" for v in (r.value, *(r.band or ()))]
        if kept and max(ys) > 2 * max(kept):
            ys, clipped = kept, True
    y0, y1 = _range(ys, chart.y_zero, chart.y_max)
    xt, yt = nice_ticks(x0, x1), nice_ticks(y0, y1)
    x0, x1 = min(x0, xt[0]), max(x1, xt[-1])
    y0, y1 = min(y0, yt[0]), max(y1, yt[-1])
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0) * pw

    def sy(v: float) -> float:
        return TOP + ph - (v - y0) / (y1 - y0) * ph

    out = [f'<svg class="plot" data-plot="{escape(chart.plot_id)}" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" role="img" '
           f'aria-label="{escape(chart.description or chart.y_label + " against " + chart.x_label)}" '
           'preserveAspectRatio="xMidYMid meet">',
           f'<rect x="{LEFT}" y="{TOP}" width="{_f(pw)}" height="{_f(ph)}" fill="#fff" stroke="#999"/>']
    for v in xt:
        x = sx(v)
        out.append(f'<line x1="{_f(x)}" y1="{TOP}" x2="{_f(x)}" y2="{_f(TOP + ph)}" stroke="#e4e4e4"/>'
                   f'<text x="{_f(x)}" y="{_f(TOP + ph + 20)}" text-anchor="middle" class="tk">{tick_text(v)}</text>')
    for v in yt:
        y = sy(v)
        out.append(f'<line x1="{LEFT}" y1="{_f(y)}" x2="{_f(LEFT + pw)}" y2="{_f(y)}" stroke="#e4e4e4"/>'
                   f'<text x="{LEFT - 6}" y="{_f(y + 4)}" text-anchor="end" class="tk">{tick_text(v)}</text>')
    out.append(f'<text x="{_f(LEFT + pw / 2)}" y="{HEIGHT - 8:g}" text-anchor="middle" class="al">'
               f"{escape(chart.x_label)}</text>"
               f'<text transform="translate(20 {_f(TOP + ph / 2)}) rotate(-90)" text-anchor="middle" class="al">'
               f"{escape(chart.y_label)}</text>")
    for r in chart.rules:
        # A rule on x is a solid vertical line across the plot, one on y a dashed horizontal line; its
        # band is shaded across the plot the same way, from its left (or top) edge `a`.
        across_x = r.axis == "x"
        scale = sx if across_x else sy
        if r.band:
            a, b = (scale(r.band[0]), scale(r.band[1])) if across_x else (scale(r.band[1]), scale(r.band[0]))
            rect = ((_f(a), TOP, _f(max(b - a, 1)), _f(ph)) if across_x
                    else (LEFT, _f(a), _f(pw), _f(max(b - a, 1))))
            out.append('<rect x="{}" y="{}" width="{}" height="{}" '.format(*rect) +
                       f'fill="#888" fill-opacity="0.18"><title>{escape(r.label)}</title></rect>')
        at = _f(scale(r.value))
        ends = (at, TOP, at, _f(TOP + ph)) if across_x else (LEFT, at, _f(LEFT + pw), at)
        dash = "" if across_x else ' stroke-dasharray="5 4"'
        out.append('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#444" '.format(*ends) +
                   f'stroke-width="1.6"{dash}><title>{escape(r.label)}</title></line>')
    if len(chart.front) > 1:
        corners = sorted(chart.front)
        d = f"M{_f(sx(corners[0][0]))},{_f(sy(corners[0][1]))}"
        for (_, py), (qx, qy) in itertools.pairwise(corners):
            d += f"H{_f(sx(qx))}V{_f(sy(qy))}" if qy <= py else f"V{_f(sy(qy))}H{_f(sx(qx))}"
        out.append(f'<path class="front" d="{d}" fill="none" stroke="#222" stroke-width="6" stroke-opacity="0.25" '
                   'stroke-linejoin="round"/>')
    for s in chart.series:
        c = COLOURS[s.style % len(COLOURS)]
        pts = sorted(s.points, key=lambda p: (p.x, p.y))
        joined = [p for p in pts if not p.faded]     # the curve runs through the trials that passed
        if s.line and len(joined) > 1:
            dash = DASHES[s.style % len(DASHES)]
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.6"'
                       + (f' stroke-dasharray="{dash}"' if dash else "")
                       + f' points="{" ".join(f"{_f(sx(p.x))},{_f(sy(p.y))}" for p in joined)}"/>')
        for p in pts:
            x, y = sx(p.x), sy(min(p.y, y1))
            bars = ""
            if p.x_err:
                bars += (f'<path d="M{_f(sx(p.x_err[0]))},{_f(y)}H{_f(sx(p.x_err[1]))}M{_f(sx(p.x_err[0]))},{_f(y - 4)}'
                         f'v8M{_f(sx(p.x_err[1]))},{_f(y - 4)}v8" stroke="{c}" stroke-width="1.2" fill="none"/>')
            if p.y_err:
                bars += (f'<path d="M{_f(x)},{_f(sy(p.y_err[0]))}V{_f(sy(p.y_err[1]))}M{_f(x - 4)},{_f(sy(p.y_err[0]))}'
                         f'h8M{_f(x - 4)},{_f(sy(p.y_err[1]))}h8" stroke="{c}" stroke-width="1.2" fill="none"/>')
            opacity = ' opacity="0.45"' if p.faded else ""
            right = x > LEFT + pw * 0.7       # near the right edge: the label goes left of the point
            anchor = ' text-anchor="end"' if right else ""
            label = (f'<text x="{_f(x - 9 if right else x + 9)}" y="{_f(y - 9)}" class="pl"{anchor}>'
                     f"{escape(p.label)}</text>" if p.label else "")
            out.append(f'<g class="pt" data-key="{escape(p.key)}" data-series="{escape(s.name)}"{opacity}>'
                       f"<title>{escape(p.tip)}</title>{bars}"
                       f"{marker(MARKERS[s.style % len(MARKERS)], x, y, 5.0, c, s.hollow)}{label}</g>")
    if chart.ring:
        rx, ry, rl = chart.ring
        out.append(f'<circle class="ring" cx="{_f(sx(rx))}" cy="{_f(sy(ry))}" r="12" fill="none" stroke="#000" '
                   f'stroke-width="2"><title>{escape(rl)}</title></circle>')
    out.append("</svg>")
    return f'<figure class="chart">{"".join(out)}{legend(chart, clipped)}</figure>'


# ------------------------------------------------------------------ the timeline (a Gantt chart)

PHASE_STYLES = {   # fill, pattern: told apart in greyscale by lightness and hatching
    "setup": ("#555", None),
    "search": ("#9ecae1", "hatch"),
    "capacity": ("#fdae6b", "cross"),
    "hold": ("#31a354", None),
    "serverless": ("#9ecae1", "hatch"),
    "step": ("#ddd", None),
}


@dataclass(frozen=True)
class Segment:
    start: float        # seconds from the timeline's origin
    end: float
    phase: str          # a key of PHASE_STYLES
    tip: str
    key: str = ""


@dataclass(frozen=True)
class Lane:
    label: str
    segments: Sequence[Segment]


def _phase_fill(plot_id: str, phase: str) -> str:
    colour, pattern = PHASE_STYLES.get(phase, ("#bbb", None))
    return f"url(#{plot_id}-{phase})" if pattern else colour


def _patterns(plot_id: str) -> str:
    out = []
    for phase, (colour, pattern) in PHASE_STYLES.items():
        if pattern is None:
            continue
        lines = '<path d="M0,6L6,0" stroke="#000" stroke-width="1" stroke-opacity="0.55"/>'
        if pattern == "cross":
            lines += '<path d="M0,0L6,6" stroke="#000" stroke-width="1" stroke-opacity="0.55"/>'
        out.append(f'<pattern id="{plot_id}-{phase}" width="6" height="6" patternUnits="userSpaceOnUse">'
                   f'<rect width="6" height="6" fill="{colour}"/>{lines}</pattern>')
    return f"<defs>{''.join(out)}</defs>"


def timeline(plot_id: str, lanes: Sequence[Lane], total_s: float) -> str:
    """Steps as lanes over time (seconds since the job's first step started), each split into its
    setup and its trials by phase; a lane without trials shows the step's whole span."""
    lane_h, gap = 26.0, 8.0
    left = 190.0
    height = TOP + len(lanes) * (lane_h + gap) + BOTTOM
    pw = WIDTH - left - RIGHT
    ticks = nice_ticks(0.0, max(total_s, 1.0), 6)
    end = max(ticks[-1], 1.0)

    def sx(v: float) -> float:
        return left + max(0.0, min(v, end)) / end * pw

    out = [f'<svg class="plot timeline" data-plot="{escape(plot_id)}" viewBox="0 0 {WIDTH:g} {height:g}" role="img" '
           'aria-label="timeline of the steps" preserveAspectRatio="xMidYMid meet">', _patterns(plot_id)]
    bottom = TOP + len(lanes) * (lane_h + gap)
    for v in ticks:
        x = sx(v)
        out.append(f'<line x1="{_f(x)}" y1="{TOP}" x2="{_f(x)}" y2="{_f(bottom)}" stroke="#e4e4e4"/>'
                   f'<text x="{_f(x)}" y="{_f(bottom + 20)}" text-anchor="middle" class="tk">{tick_text(v)}</text>')
    out.append(f'<text x="{_f(left + pw / 2)}" y="{_f(height - 8)}" text-anchor="middle" class="al">'
               "seconds since the first step started</text>")
    for i, lane in enumerate(lanes):
        y = TOP + i * (lane_h + gap)
        label = lane.label if len(lane.label) <= 17 else lane.label[:16] + "…"
        out.append(f'<text x="{left - 6}" y="{_f(y + lane_h / 2 + 4)}" text-anchor="end" class="tk">'
                   f"<title>{escape(lane.label)}</title>{escape(label)}</text>"
                   f'<rect x="{left}" y="{_f(y)}" width="{_f(pw)}" height="{lane_h}" fill="#f7f7f7"/>')
        for seg in lane.segments:
            a, b = sx(seg.start), sx(seg.end)
            cls = "pt seg" if seg.key else "seg"
            out.append(f'<rect class="{cls}" data-key="{escape(seg.key)}" data-phase="{escape(seg.phase)}" '
                       f'x="{_f(a)}" y="{_f(y + 2)}" width="{_f(max(b - a, 1.5))}" height="{lane_h - 4:g}" '
                       f'fill="{_phase_fill(plot_id, seg.phase)}" stroke="#333" stroke-width="0.6">'
                       f"<title>{escape(seg.tip)}</title></rect>")
    out.append("</svg>")
    used = [p for p in PHASE_STYLES if any(s.phase == p for lane in lanes for s in lane.segments)]
    items = "".join(
        f'<li><svg class="sw" width="36" height="16" viewBox="0 0 36 16" aria-hidden="true">'
        f'<rect x="2" y="2" width="32" height="12" fill="{_phase_fill(plot_id, p)}" stroke="#333" '
        f'stroke-width="0.6"/></svg>{escape(_PHASE_NAMES.get(p, p))}</li>' for p in used)
    return f'<figure class="chart">{"".join(out)}<ul class="legend">{items}</ul></figure>'


_PHASE_NAMES = {"setup": "endpoint setup", "search": "rate search trial", "capacity": "capacity (saturated)",
                "hold": "confirmation hold", "serverless": "concurrency trial", "step": "step (no trial detail)"}
