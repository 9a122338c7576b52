"""Side-by-side JPEG decode benchmark: cuelab vs Pillow on the same files, in one run.

    /opt/refenv/bin/python tools/reference/cue/bench_jpeg.py [--repeats 30]

Files: the two bundled photos as distributed (768x576 and 773x512, 4:4:0 baseline with restart
markers) and two re-encodes of dog.jpg made here with Pillow: 640x480 4:2:0 quality 90 (a
COCO-like image) and 1920x1440 4:2:0 quality 90 progressive (a phone-photo-like size).
Times, per file, the median of REPEATS decodes from bytes in memory to an RGB array, 1 thread:
  * Pillow 11.0 (libjpeg-turbo 3.0.4 with its x86 SIMD): `Image.open(BytesIO(b)).convert("RGB")`
    followed by `np.asarray` (what a pipeline does before a model);
  * cuelab: `decode_rgb` (the same libjpeg-turbo decoder, built without SIMD), and the `image`
    crate's decoder (zune-jpeg) for reference, via the `jpeg_speed` example (release build).
Runs the release example `jpeg_speed` (tools/reference/bench_bin.py says how to build it).
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bench_bin  # noqa: E402  (tools/reference/bench_bin.py: the release binaries)

ROOT = Path(__file__).resolve().parents[3]


def pillow_ms(data: bytes, repeats: int) -> float:
    def once():
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    once()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cuelab-jpeg-bench-"))
    files = [ROOT / "assets" / "photos" / "dog.jpg", ROOT / "assets" / "photos" / "eagle.jpg"]
    dog = Image.open(files[0]).convert("RGB")
    coco = tmp / "dog_640x480_420_q90.jpg"
    dog.resize((640, 480), Image.BICUBIC).save(coco, quality=90)
    big = tmp / "dog_1920x1440_420_q90_progressive.jpg"
    dog.resize((1920, 1440), Image.BICUBIC).save(big, quality=90, progressive=True)
    files += [coco, big]

    exe = bench_bin.binary("jpeg_speed", example=True)
    out = subprocess.run([str(exe), str(args.repeats)] + [str(f) for f in files], check=True, capture_output=True, text=True)
    rust = {r["file"]: r for r in json.loads(out.stdout)}

    print(f"Pillow {PIL.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')}), cuelab {bench_bin.profile()} build, median of {args.repeats}, 1 thread")
    print(f"{'file':42s} {'size':>10s} {'Pillow ms':>10s} {'cuelab ms':>10s} {'ratio':>6s} {'image-crate ms':>15s}")
    rows = []
    for f in files:
        data = f.read_bytes()
        p = pillow_ms(data, args.repeats)
        r = rust[str(f)]
        ratio = p / r["cuelab_ms"]
        rows.append({"file": f.name, "pillow_ms": p, **{k: r[k] for k in ("cuelab_ms", "image_crate_ms", "width", "height")}})
        print(f"{f.name:42s} {r['width']:>4d}x{r['height']:<5d} {p:10.2f} {r['cuelab_ms']:10.2f} {ratio:5.2f}x {r['image_crate_ms']:15.2f}")
    total_p = sum(r["pillow_ms"] for r in rows)
    total_c = sum(r["cuelab_ms"] for r in rows)
    print(f"total: Pillow {total_p:.2f} ms, cuelab {total_c:.2f} ms, cuelab speed = {total_p / total_c:.2f}x Pillow's")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
