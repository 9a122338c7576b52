"""Side-by-side latency of the built-in CenterNet: cuelab (tract, pure Rust) vs onnxruntime (Python).

Both run the same model on the same input tensors (the photo stretched to 512x512 with TF's
bilinear resize); the timed part is the model alone (tensor in, raw [1,100,6] out), median of N
runs after one warm-up, on all cores (onnxruntime's default intra-op threads; tract through the
rayon pool). The Rust side is the release example `bench_detect` (tools/reference/bench_bin.py).

  /opt/refenv/bin/python tools/reference/detect/bench.py [--runs 10] [--threads N] [photos...]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from make_fixtures import CENTERNET, ROOT, tf_resize_bilinear  # noqa: E402
import os

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bench_bin  # noqa: E402  (tools/reference/bench_bin.py: the release binaries)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("photos", nargs="*", default=[str(ROOT / "assets/photos/dog.jpg"), str(ROOT / "assets/photos/eagle.jpg")])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = its default)")
    args = ap.parse_args()

    opts = ort.SessionOptions()
    if args.threads:
        opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(str(CENTERNET), opts, providers=["CPUExecutionProvider"])
    ort_ms = {}
    for p in args.photos:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        x = tf_resize_bilinear(rgb, 512, 512).astype(np.float32)[None]
        sess.run(None, {"tower_0_images": x})
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            sess.run(None, {"tower_0_images": x})
            times.append((time.perf_counter() - t) * 1e3)
        ort_ms[p] = statistics.median(times)

    cmd = [str(bench_bin.binary("bench_detect", example=True)), "--runs", str(args.runs), *args.photos]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    tract = {r["photo"]: r for r in map(json.loads, out.strip().splitlines())}

    print(f"CenterNet 512, median of {args.runs} runs, onnxruntime {ort.__version__}, cuelab {bench_bin.profile()} build")
    print(f"{'photo':<12} {'onnxruntime ms':>15} {'tract ms':>10} {'tract/ort':>10} {'tract detect() ms':>18}")
    for p in args.photos:
        t = tract[p]
        print(f"{Path(p).name:<12} {ort_ms[p]:>15.1f} {t['model_ms']:>10.1f} {t['model_ms'] / ort_ms[p]:>9.2f}x {t['detect_ms']:>18.1f}")


if __name__ == "__main__":
    main()
