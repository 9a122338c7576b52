"""Pillow references for the overlay primitives that Pillow also draws, and seed 004's
position colour table.

Run from the repository root:  /opt/refenv/bin/python tools/reference/cue/make_overlay_fixtures.py
Writes crates/cuelab-cue/tests/fixtures/overlay_cases.json.

Every shape is drawn in white on a black "L" canvas and stored as runs of drawn pixels
([y, x_start, x_end], inclusive), like ellipse_cases.json:

- rect: ImageDraw.rectangle(box, outline, width) for widths 1-8 on odd, even, thin and partly
  outside boxes. cuelab's `rect` (aliased by default) draws the stroke inside the box, as Pillow.
- rounded: ImageDraw.rounded_rectangle(box, radius, outline, width). Pillow's radius is the
  outer corner radius; cuelab's `corner` is the radius of the stroke's centre line, so the
  Rust test passes corner = radius - width / 2.
- fill_outside: ImageDraw.rectangle(box, fill) of the region on a white canvas (cuelab's
  `fill` paints outside the region).
- disc: ImageDraw.ellipse(box, fill) of the square box of side 2r centred on the region's
  centre (cuelab's `dot`).
- label: a Set-of-Mark tag as cuelab defines it (tag rectangle of text width + 2 pad by text
  height + pad, pad = round(0.2 size), at the region's top-left corner, clamped to the image),
  with the text drawn by Pillow's FreeType renderer in DejaVu Sans Mono Bold (the font cuelab
  embeds) at (x + pad, y + pad / 2), anchor "la" (left, ascender). Stored: the tag rectangle
  and the text's ink box and ink spans (pixels >= 128).
- colorcode: seed 004's get_background_color (the 3x3 table, <= 0.35 / 0.65 on x, <= 0.33 /
  0.67 on y) of the box centroid ((x0 + x1) / 2 / W, (y0 + y1) / 2 / H) computed in float64,
  for boxes whose centroids fall exactly on and next to every edge of the table.

Box convention: continuous xyxy with an exclusive end (cuelab's); Pillow's ImageDraw includes
the end pixel, so boxes are passed to Pillow as [x0, y0, x1 - 1, y1 - 1].
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "crates" / "cuelab-cue" / "tests" / "fixtures" / "overlay_cases.json"
FONT = ROOT / "crates" / "cuelab-cue" / "assets" / "DejaVuSansMono-Bold.ttf"
W, H = 96, 72


def pillow_box(b):
    x0, y0, x1, y1 = b
    return [x0, y0, x1 - 1, y1 - 1]


def spans(img, threshold=1):
    a = np.asarray(img) >= threshold
    out = []
    for y in range(a.shape[0]):
        xs = np.flatnonzero(a[y])
        if xs.size == 0:
            continue
        start = prev = int(xs[0])
        for x in xs[1:]:
            x = int(x)
            if x != prev + 1:
                out.append([y, start, prev])
                start = x
            prev = x
        out.append([y, start, prev])
    return out


BOXES = [
    [10, 10, 40, 30], [11, 9, 50, 40], [20, 20, 23, 60], [5, 5, 90, 66], [0, 0, 96, 72],
    [-10, 30, 30, 80], [60, -5, 110, 20], [30, 30, 31, 31], [40, 12, 47, 19], [2, 50, 70, 52],
]


def rect_cases():
    cases = []
    for box in BOXES:
        for width in range(1, 9):
            m = Image.new("L", (W, H), 0)
            ImageDraw.Draw(m).rectangle(pillow_box(box), outline=255, width=width)
            cases.append({"box": box, "width": width, "spans": spans(m)})
    return cases


def rounded_cases():
    cases = []
    for box in [b for b in BOXES if b[2] - b[0] >= 20 and b[3] - b[1] >= 20]:
        for width, radius in [(1, 6), (2, 8), (3, 10), (5, 15), (4, 9)]:
            m = Image.new("L", (W, H), 0)
            ImageDraw.Draw(m).rounded_rectangle(
                pillow_box(box), radius=radius, outline=255, width=width
            )
            cases.append({"box": box, "width": width, "radius": radius, "spans": spans(m)})
    return cases


def fill_outside_cases():
    cases = []
    for box in BOXES[:6]:
        m = Image.new("L", (W, H), 255)
        ImageDraw.Draw(m).rectangle(pillow_box(box), fill=0)
        cases.append({"box": box, "spans": spans(m)})
    return cases


def disc_cases():
    cases = []
    for box, r in [([30, 20, 50, 40], 6), ([10, 10, 40, 30], 8), ([40, 30, 60, 50], 3),
                   ([0, 0, 20, 20], 12), ([20, 20, 52, 52], 10), ([44, 10, 54, 20], 5)]:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        m = Image.new("L", (W, H), 0)
        ImageDraw.Draw(m).ellipse(pillow_box([cx - r, cy - r, cx + r, cy + r]), fill=255)
        cases.append({"box": box, "radius": r, "spans": spans(m)})
    return cases


def label_cases():
    cases = []
    for text, size, box in [("1", 18, [10, 10, 60, 50]), ("12", 18, [30, 20, 90, 70]),
                            ("A", 24, [5, 30, 40, 70]), ("7", 12, [50, 5, 90, 40]),
                            ("42", 30, [20, 20, 60, 60]), ("3", 18, [80, 60, 96, 72])]:
        font = ImageFont.truetype(str(FONT), size)
        ascent, descent = font.getmetrics()
        tw = font.getlength(text)
        pad = round(size * 0.2)
        bw, bh = tw + 2 * pad, ascent + descent + pad
        x = round(min(max(box[0], 0), max(W - bw, 0)))
        y = round(min(max(box[1], 0), max(H - bh, 0)))
        m = Image.new("L", (W, H), 0)
        ImageDraw.Draw(m).text((x + pad, y + pad / 2), text, fill=255, font=font, anchor="la")
        ink = spans(m, 128)
        ys = [s[0] for s in ink]
        xs0 = [s[1] for s in ink]
        xs1 = [s[2] for s in ink]
        cases.append({
            "text": text, "size": size, "box": box,
            "tag": [x, y, x + bw, y + bh],
            "ink_box": [min(xs0), min(ys), max(xs1) + 1, max(ys) + 1],
            "ink_spans": ink,
        })
    return cases


def seed_background_color(nx, ny):
    """Seed 004's table (section 6.1.1), written out from its description."""
    col = 0 if nx <= 0.35 else (1 if nx <= 0.65 else 2)
    row = 0 if ny <= 0.33 else (1 if ny <= 0.67 else 2)
    table = [
        [[0, 0, 255], [255, 255, 0], [255, 0, 0]],
        [[0, 255, 0], [255, 0, 255], [0, 0, 0]],
        [[139, 69, 19], [0, 255, 255], [255, 255, 255]],
    ]
    return table[row][col]


def colorcode_cases():
    cases = []
    for (iw, ih) in [(100, 100), (300, 200), (640, 480), (97, 61), (256, 256)]:
        xs = sorted({iw * e for e in (0.35, 0.65)} | {iw * 0.1, iw * 0.5, iw * 0.9})
        ys = sorted({ih * e for e in (0.33, 0.67)} | {ih * 0.1, ih * 0.5, ih * 0.9})
        for cx in xs:
            for cy in ys:
                for dx in (-0.5, 0.0, 0.5):
                    for dy in (-0.5, 0.0, 0.5):
                        # integer boxes of width/height 4 or 5 whose centroid is near (cx, cy)
                        x0 = int(np.floor(cx + dx)) - 2
                        y0 = int(np.floor(cy + dy)) - 2
                        x1 = x0 + (4 if dx <= 0 else 5)
                        y1 = y0 + (4 if dy <= 0 else 5)
                        nx = ((x0 + x1) / 2) / iw
                        ny = ((y0 + y1) / 2) / ih
                        cases.append({"size": [iw, ih], "box": [x0, y0, x1, y1],
                                      "color": seed_background_color(nx, ny)})
    return cases


def main():
    data = {
        "generator": "tools/reference/cue/make_overlay_fixtures.py",
        "pillow": __import__("PIL").__version__,
        "canvas": [W, H],
        "rect": rect_cases(),
        "rounded": rounded_cases(),
        "fill_outside": fill_outside_cases(),
        "disc": disc_cases(),
        "label": label_cases(),
        "colorcode": colorcode_cases(),
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")))
    print(f"wrote {OUT.relative_to(ROOT)}: " + ", ".join(
        f"{k} {len(v)}" for k, v in data.items() if isinstance(v, list) and k != "canvas"))


if __name__ == "__main__":
    main()
