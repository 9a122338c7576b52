"""Reference outputs for cuelab-cue's parity tests, rendered with Pillow.

Run from the repository root:  /opt/refenv/bin/python tools/reference/cue/make_fixtures.py
Writes crates/cuelab-cue/tests/fixtures/{*.png, cases.json}.

Sources are saved as PNG after Pillow decodes them, so the Rust tests compare the operations
on identical input pixels (JPEG decoders differ by a grey level here and there; that is a
decoder difference, measured separately by the tests).

Box convention in cases.json: continuous xyxy with an exclusive end (cuelab's). Pillow's
ImageDraw includes the end pixel, so boxes are passed to Pillow as [x0, y0, x1 - 1, y1 - 1].
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "crates" / "cuelab-cue" / "tests" / "fixtures"
PHOTOS = ROOT / "assets" / "photos"


def pillow_box(b):
    x0, y0, x1, y1 = b
    return [x0, y0, x1 - 1, y1 - 1]


def blur(img, r):
    return img.filter(ImageFilter.GaussianBlur(radius=r))


def gray(img):
    return img.convert("L").convert("RGB")


def ellipse(img, b, width=3, color="red"):
    out = img.copy()
    ImageDraw.Draw(out).ellipse(pillow_box(b), outline=color, width=width)
    return out


def seed_recipe(img, b, with_gray, radius=20, width=3):
    """Seed 004's get_image_with_marker_and_blur(_grayscale), stroke red width 3, radius 20."""
    result = blur(img, radius)
    if with_gray:
        result = gray(result)
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rectangle(pillow_box(b), fill=255)
    result.paste(img, mask=mask)
    ImageDraw.Draw(result).ellipse(pillow_box(b), outline="red", width=width)
    return result


def sources():
    dog = Image.open(PHOTOS / "dog.jpg").convert("RGB").crop((100, 100, 340, 280))
    eagle = Image.open(PHOTOS / "eagle.jpg").convert("RGB").crop((250, 60, 490, 240))
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8), "RGB")
    stripe = Image.fromarray(rng.integers(0, 256, size=(50, 3, 3), dtype=np.uint8), "RGB")
    dot = Image.fromarray(np.array([[[200, 10, 60]]], dtype=np.uint8), "RGB")
    return {
        "dog": (dog, [60, 40, 170, 150]),
        "eagle": (eagle, [30, 20, 200, 170]),
        "noise": (noise, [5, 4, 20, 15]),
        "stripe": (stripe, [0, 10, 3, 20]),
        "dot": (dot, [0, 0, 1, 1]),
    }


def mask_spans(mask):
    """Runs of drawn pixels of an "L" image as [y, x_start, x_end] (inclusive)."""
    a = np.asarray(mask) > 0
    spans = []
    for y in range(a.shape[0]):
        xs = np.flatnonzero(a[y])
        if xs.size == 0:
            continue
        start = prev = int(xs[0])
        for x in xs[1:]:
            x = int(x)
            if x != prev + 1:
                spans.append([y, start, prev])
                start = x
            prev = x
        spans.append([y, start, prev])
    return spans


def ellipse_geometry_cases():
    """Pillow's aliased ellipse on a 64x48 canvas: outline widths 1-10 (and wider than the box),
    fill, odd and even box sizes, one-pixel and thin boxes, boxes partly or wholly outside.
    Boxes are Pillow's inclusive integer boxes [x0, y0, x1, y1]."""
    import random

    rng = random.Random(11)
    W, H = 64, 48
    boxes = [[10, 10, 10, 10], [0, 0, 0, 0], [63, 47, 63, 47], [5, 5, 6, 5], [5, 5, 5, 6],
             [5, 5, 6, 6], [3, 4, 7, 4], [3, 4, 3, 20], [2, 2, 4, 4], [2, 2, 5, 5], [1, 1, 30, 2],
             [-10, -8, 20, 15], [40, 30, 80, 60], [-20, 10, 90, 30], [10, -30, 30, 90],
             [-50, -50, -10, -10], [70, 5, 90, 20], [0, 0, 63, 47], [-1, -1, 64, 48]]
    for _ in range(60):
        x0, y0 = rng.randint(-12, 50), rng.randint(-12, 40)
        boxes.append([x0, y0, x0 + rng.randint(0, 45), y0 + rng.randint(0, 35)])
    cases = []
    for k, box in enumerate(boxes):
        styles = [("fill", 0)] + [("outline", w) for w in range(1, 11)]
        if k % 3 == 0:
            styles += [("outline", rng.choice([12, 15, 20, 25, 50]))]
        for style, width in styles:
            mask = Image.new("L", (W, H), 0)
            d = ImageDraw.Draw(mask)
            if style == "fill":
                d.ellipse(box, fill=255)
            else:
                d.ellipse(box, outline=255, width=width)
            cases.append({"box": box, "style": style, "width": width, "spans": mask_spans(mask)})
    return {"generator": "tools/reference/cue/make_fixtures.py (ellipse_geometry_cases, seed 11)",
            "pillow": __import__("PIL").__version__, "canvas": [W, H], "cases": cases}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    geo = ellipse_geometry_cases()
    (OUT / "ellipse_cases.json").write_text(json.dumps(geo, separators=(",", ":")))
    print(f"wrote {len(geo['cases'])} ellipse geometry cases")
    cases = []
    for name, (img, box) in sources().items():
        src = f"{name}_src.png"
        img.save(OUT / src)
        outputs = []
        for r in [1, 2, 5, 20, 50]:
            outputs.append(("blur", {"radius": r}, blur(img, r)))
        outputs.append(("gray", {}, gray(img)))
        if min(box[2] - box[0], box[3] - box[1]) >= 8:
            outputs.append(("ellipse", {"width": 3}, ellipse(img, box)))
            outputs.append(("seed_blur", {}, seed_recipe(img, box, False)))
            outputs.append(("seed_blur_gray", {}, seed_recipe(img, box, True)))
        for op, params, out in outputs:
            suffix = "_".join(f"{k}{v}" for k, v in params.items())
            fname = f"{name}_{op}{'_' + suffix if suffix else ''}.png"
            out.save(OUT / fname, optimize=True)
            cases.append({"source": src, "op": op, "params": params, "box": box, "expected": fname})
    # Input modes: RGBA, L, 16-bit gray, palette, and an EXIF-rotated JPEG. The expected image
    # is what Pillow gives after exif_transpose + convert("RGB").
    from PIL import ImageOps

    base = sources()["dog"][0].crop((0, 0, 64, 48))
    modes = []
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    modes.append(("mode_rgba.png", rgba))
    modes.append(("mode_l.png", base.convert("L")))
    modes.append(("mode_p.png", base.convert("P", palette=Image.ADAPTIVE, colors=16)))
    arr16 = (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    modes.append(("mode_i16.png", Image.fromarray(arr16, "I;16")))
    for fname, im in modes:
        im.save(OUT / fname)
        ref = im.convert("RGB") if im.mode != "I;16" else Image.fromarray((np.asarray(im) >> 8).astype(np.uint8), "L").convert("RGB")
        ref.save(OUT / ("expected_" + fname))
        cases.append({"source": fname, "op": "load", "params": {}, "box": [0, 0, 1, 1], "expected": "expected_" + fname})
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    big = Image.new("RGB", (40, 24), (255, 255, 255))
    ImageDraw.Draw(big).rectangle([0, 0, 9, 23], fill=(255, 0, 0))
    big.save(OUT / "exif_rot6.jpg", exif=exif, quality=95)
    ImageOps.exif_transpose(Image.open(OUT / "exif_rot6.jpg")).convert("RGB").save(OUT / "expected_exif_rot6.png")
    cases.append({"source": "exif_rot6.jpg", "op": "load_exif", "params": {}, "box": [0, 0, 1, 1], "expected": "expected_exif_rot6.png"})

    meta = {
        "generator": "tools/reference/cue/make_fixtures.py",
        "pillow": Image.__version__ if hasattr(Image, "__version__") else __import__("PIL").__version__,
        "numpy": np.__version__,
        "cases": cases,
    }
    (OUT / "cases.json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
