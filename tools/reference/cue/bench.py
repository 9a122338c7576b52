"""Side-by-side benchmark: seed 004's two cue recipes, cuelab vs Pillow, same images and boxes.

    /opt/refenv/bin/python tools/reference/cue/bench.py [--boxes 8] [--repeats 3]

Makes 640x480 inputs from the bundled photos (Pillow resize, saved as PNG so both sides decode
identical pixels), K boxes per image, then times:
  * Pillow: the seed's get_image_with_marker_and_blur(_grayscale) per box (blur per render);
  * cuelab: the `bench_cues` example (release build), uncached (fresh renderer per render, like
    the seed) and cached (backgrounds reused across one image's boxes), 1 thread and all threads.
Prints ms per render and the ratios. Decoding is excluded on both sides.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bench_bin  # noqa: E402  (tools/reference/bench_bin.py: the release binaries)

ROOT = Path(__file__).resolve().parents[3]


def seed_render(image, bbox, gray):
    result = image.filter(ImageFilter.GaussianBlur(radius=20))
    if gray:
        result = result.convert("L").convert("RGB")
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rectangle(bbox, fill=255)
    result.paste(image, mask=mask)
    ImageDraw.Draw(result).ellipse(bbox, outline="red", width=3)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--boxes", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="cuelab-bench-"))
    jobs, images = [], []
    for name in ["dog", "eagle"]:
        img = Image.open(ROOT / "assets" / "photos" / f"{name}.jpg").convert("RGB").resize((640, 480), Image.BICUBIC)
        path = tmp / f"{name}.png"
        img.save(path)
        boxes = []
        for _ in range(args.boxes):
            x0, y0 = int(rng.integers(0, 500)), int(rng.integers(0, 360))
            boxes.append([x0, y0, x0 + int(rng.integers(40, 140)), y0 + int(rng.integers(40, 120))])
        jobs.append({"image": str(path), "boxes": boxes})
        images.append((img, boxes))
    (tmp / "jobs.json").write_text(json.dumps(jobs))

    renders = sum(len(b) for _, b in images) * 2
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for img, boxes in images:
            for b in boxes:
                pb = [b[0], b[1], b[2] - 1, b[3] - 1]
                seed_render(img, pb, False)
                seed_render(img, pb, True)
        best = min(best, time.perf_counter() - t0)
    pillow_ms = best * 1e3 / renders

    exe = bench_bin.binary("bench_cues", example=True)
    results = {}
    for threads in [1, os.cpu_count() or 1]:
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        out = subprocess.run([str(exe), str(tmp / "jobs.json"), str(args.repeats)], env=env, check=True, capture_output=True, text=True)
        results[threads] = json.loads(out.stdout)

    print(f"seed 004 recipes on 640x480, {len(images)} images x {args.boxes} boxes x 2 recipes = {renders} renders")
    print(f"Pillow {Image.__version__ if hasattr(Image, '__version__') else ''} (1 thread): {pillow_ms:8.3f} ms/render")
    for threads, r in results.items():
        u, c = r["uncached_ms_per_render"], r["cached_ms_per_render"]
        print(f"cuelab {threads} thread(s) uncached: {u:8.3f} ms/render  ratio {pillow_ms / u:6.1f}x")
        print(f"cuelab {threads} thread(s) cached:   {c:8.3f} ms/render  ratio {pillow_ms / c:6.1f}x")
    json.dump({"pillow_ms_per_render": pillow_ms, "cuelab": results}, sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
