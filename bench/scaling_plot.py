#!/usr/bin/python3
"""Draws bench/run --scaling's figures as one SVG (standard library only).

    scaling_plot.py DATA OUT.svg

DATA has one line per point: "OP LABEL POP CONNS SIDE RATE P99_MS", OP get or
put, LABEL the population's name (n10k), SIDE proxy or nginx, RATE and
P99_MS "-" when the point has no figure. Four panels: GET and PUT
requests/s (linear, from zero) over connections (log scale), and their p99
(log scale) below; one line per server and population: colour by server,
dash by population.
"""

import math
import sys
from xml.sax.saxutils import escape

COLOURS = {"proxy": "#c0392b", "nginx": "#2471a3"}
NAMES = {"proxy": "zkfence-proxy", "nginx": "nginx"}
DASHES = ["", "7,4", "2,3", "9,3,2,3"]
PANEL_W, PANEL_H = 400, 250
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 70, 20, 40, 45
LEGEND_H = 50


def number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read(path):
    points = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 7:
                continue
            op, label, pop, conns, side, rate, p99 = parts
            points.append((op, label, int(pop), int(conns), side, number(rate), number(p99)))
    return points


def nice_step(span, ticks=5):
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt(v):
    if v >= 1000000 and v % 1000000 == 0:
        return "%dM" % (v // 1000000)
    if v >= 1000 and v % 1000 == 0:
        return "%dk" % (v // 1000)
    if v >= 1:
        return "%g" % v
    return "%.2g" % v


class Panel:
    def __init__(self, out, x0, y0, title, conns, values, log_y):
        self.out, self.x0, self.y0, self.log_y = out, x0, y0, log_y
        self.cmin, self.cmax = min(conns), max(conns)
        if self.cmax == self.cmin:
            self.cmax = self.cmin * 2
        values = [v for v in values if v is not None and (v > 0 or not log_y)]
        if log_y:
            lo = min(values) if values else 0.1
            hi = max(values) if values else 1.0
            self.lo = 10 ** math.floor(math.log10(lo))
            self.hi = 10 ** math.ceil(math.log10(hi))
            if self.hi <= self.lo:
                self.hi = self.lo * 10
        else:
            self.lo = 0.0
            top = max(values) if values else 1.0
            step = nice_step(top * 1.05 or 1.0)
            self.hi = step * math.ceil(top * 1.05 / step) if top > 0 else 1.0
            self.step = step
        self.frame(title, conns)

    def x(self, c):
        f = (math.log(c) - math.log(self.cmin)) / (math.log(self.cmax) - math.log(self.cmin))
        return self.x0 + MARGIN_L + f * (PANEL_W - MARGIN_L - MARGIN_R)

    def y(self, v):
        if self.log_y:
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.y0 + PANEL_H - MARGIN_B - f * (PANEL_H - MARGIN_T - MARGIN_B)

    def frame(self, title, conns):
        o = self.out
        left, right = self.x0 + MARGIN_L, self.x0 + PANEL_W - MARGIN_R
        top, bottom = self.y0 + MARGIN_T, self.y0 + PANEL_H - MARGIN_B
        o.append('<text x="%.1f" y="%.1f" class="title">%s</text>'
                 % ((left + right) / 2, self.y0 + 22, escape(title)))
        ticks = []
        if self.log_y:
            v = self.lo
            while v <= self.hi * 1.0001:
                ticks.append(v)
                v *= 10
        else:
            v = 0.0
            while v <= self.hi * 1.0001:
                ticks.append(v)
                v += self.step
        for v in ticks:
            y = self.y(v)
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>'
                     % (left, y, right, y))
            o.append('<text x="%.1f" y="%.1f" class="ytick">%s</text>' % (left - 6, y + 4, fmt(v)))
        for c in sorted(set(conns)):
            x = self.x(c)
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>'
                     % (x, top, x, bottom))
            o.append('<text x="%.1f" y="%.1f" class="xtick">%d</text>' % (x, bottom + 16, c))
        o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="frame"/>'
                 % (left, top, right - left, bottom - top))
        o.append('<text x="%.1f" y="%.1f" class="xtick">connections (log scale)</text>'
                 % ((left + right) / 2, bottom + 34))

    def line(self, pts, colour, dash):
        pts = [(c, v) for c, v in pts if v is not None and (v > 0 or not self.log_y)]
        if not pts:
            return
        path = " ".join("%.1f,%.1f" % (self.x(c), self.y(v)) for c, v in pts)
        style = ' stroke-dasharray="%s"' % dash if dash else ""
        self.out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>'
                        % (path, colour, style))
        for c, v in pts:
            self.out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>'
                            % (self.x(c), self.y(v), colour))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: scaling_plot.py DATA OUT.svg")
    points = read(sys.argv[1])
    if not points:
        sys.exit("scaling_plot.py: no points in " + sys.argv[1])
    conns = sorted({p[3] for p in points})
    pops = sorted({(p[2], p[1]) for p in points})
    sides = [s for s in ("proxy", "nginx") if any(p[4] == s for p in points)]
    width, height = 2 * PANEL_W, LEGEND_H + 2 * PANEL_H
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
           % (width, height, width, height),
           '<style>.title{font-weight:bold;text-anchor:middle}.xtick{text-anchor:middle}'
           '.ytick{text-anchor:end}.grid{stroke:#ddd}.frame{fill:none;stroke:#444}</style>',
           '<rect width="100%" height="100%" fill="white"/>']
    # Legend: one entry per server and population.
    x = 20
    for side in sides:
        for i, (pop, label) in enumerate(pops):
            dash = DASHES[i % len(DASHES)]
            style = ' stroke-dasharray="%s"' % dash if dash else ""
            out.append('<line x1="%.1f" y1="25" x2="%.1f" y2="25" stroke="%s" stroke-width="2"%s/>'
                       % (x, x + 30, COLOURS[side], style))
            text = "%s, %s objects" % (NAMES[side], fmt(pop))
            out.append('<text x="%.1f" y="29">%s</text>' % (x + 36, escape(text)))
            x += 44 + 6.5 * len(text)
    panels = [("get", "rate", "GET 4 KiB: requests/s", 0, 0),
              ("put", "rate", "fenced PUT 4 KiB: accepted requests/s", 1, 0),
              ("get", "p99", "GET 4 KiB: p99 latency, ms (log scale)", 0, 1),
              ("put", "p99", "fenced PUT 4 KiB: p99 latency, ms (log scale)", 1, 1)]
    for op, what, title, col, row in panels:
        idx = 5 if what == "rate" else 6
        mine = [p for p in points if p[0] == op]
        panel = Panel(out, col * PANEL_W, LEGEND_H + row * PANEL_H, title, conns,
                      [p[idx] for p in mine], log_y=(what == "p99"))
        for side in sides:
            for i, (pop, label) in enumerate(pops):
                pts = sorted((p[3], p[idx]) for p in mine if p[4] == side and p[1] == label)
                panel.line(pts, COLOURS[side], DASHES[i % len(DASHES)])
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
