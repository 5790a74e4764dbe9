#!/usr/bin/env python3
"""Checks a report.html as Chromium rendered it (standard library only).

  report_html_check.py REPORT.html DOM.html SCREENSHOT.png TRIALS OK_TRIALS [--unfinished]

REPORT.html is the file qtune wrote, DOM.html Chromium's --dump-dom of it and SCREENSHOT.png its
--screenshot. Fails (exit 1, one line per finding) unless: the file references nothing outside
itself (no http(s)://, scripts, links, imports or url()); the rendered DOM has one mark per trial
in the metric chart (TRIALS) and one per successful trial in the latency chart (OK_TRIALS), a
bar per op in the SQNR chart, and the outcome sentence; and the screenshot is not blank: it has
the page background, dark text and the charts' colours.
"""
import html.parser
import re
import struct
import sys
import zlib


def decode_png(path):
    """(width, height, channels, rows of bytes) of an 8-bit greyscale/RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: PNG bit depth {depth}, colour type {color}, interlace {interlace} not handled")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        base = y * (stride + 1)
        kind, line = raw[base], bytearray(raw[base + 1:base + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = prev[i], prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


class Marks(html.parser.HTMLParser):
    """Counts, per <figure id>, the elements of each class inside it."""

    def __init__(self):
        super().__init__()
        self.figure = None
        self.counts = {}
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure":
            self.figure = a.get("id")
        if self.figure and a.get("class"):
            key = (self.figure, a["class"])
            self.counts[key] = self.counts.get(key, 0) + 1

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figure = None

    def handle_data(self, data):
        self.text.append(data)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    unfinished = "--unfinished" in sys.argv
    report, dom, shot, trials, ok_trials = args[0], args[1], args[2], int(args[3]), int(args[4])
    problems = []
    page = open(report, encoding="utf-8").read()
    for pattern in [r"https?://", r"<script", r"<link", r"@import", r"url\(", r"<iframe", r"<img", r"\bsrc="]:
        if re.search(pattern, page, re.I):
            problems.append(f"{report}: references something outside itself ({pattern})")

    marks = Marks()
    marks.feed(open(dom, encoding="utf-8").read())
    want = {("metric-chart", "trial"): trials, ("tradeoff-chart", "trial"): ok_trials,
            ("metric-chart", "highlight"): 1 if trials else 0}
    for key, n in want.items():
        if marks.counts.get(key, 0) != n:
            problems.append(f"DOM: {marks.counts.get(key, 0)} '{key[1]}' marks in #{key[0]}, want {n}")
    bars = marks.counts.get(("sqnr-chart", "op-sqnr"), 0)
    if bars == 0:
        problems.append("DOM: no op bars in #sqnr-chart")
    text = " ".join(marks.text)
    sentence = "Run not finished" if unfinished else "Goal "
    if sentence not in text:
        problems.append(f"DOM: the outcome sentence ('{sentence}...') is missing")

    width, height, channels, rows = decode_png(shot)
    colours, dark, chart = {}, 0, {"green": 0, "red": 0, "blue": 0}
    for row in rows[::2]:
        for x in range(0, width * channels, channels * 2):
            r, g, b = (row[x], row[x + 1], row[x + 2]) if channels >= 3 else (row[x],) * 3
            colours[(r, g, b)] = colours.get((r, g, b), 0) + 1
            dark += r + g + b < 200
            chart["green"] += g > r + 40 and g > b + 20           # goal met marks
            chart["red"] += r > g + 80 and r > b + 80             # below-goal marks
            chart["blue"] += b > r + 60 and b > g + 20            # int8 bars
    total = sum(colours.values())
    background = max(colours.values()) / total
    if background > 0.97:
        problems.append(f"{shot}: {100 * background:.1f}% of the pixels are one colour: blank")
    if dark < 100:
        problems.append(f"{shot}: almost no dark pixels ({dark}): no text rendered")
    if chart["green"] + chart["red"] < 20:
        problems.append(f"{shot}: hardly any green or red pixels: the trial marks did not render")
    if chart["blue"] < 20:
        problems.append(f"{shot}: hardly any blue pixels: the SQNR bars did not render")
    for p in problems:
        print("FAIL:", p)
    print(f"{'ok' if not problems else 'bad'}: {width}x{height} screenshot, {len(colours)} colours, "
          f"{100 * background:.0f}% background, {dark} dark / {chart} chart pixels sampled; DOM marks "
          f"{marks.counts.get(('metric-chart', 'trial'), 0)}/{marks.counts.get(('tradeoff-chart', 'trial'), 0)}, "
          f"{bars} SQNR bars")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
