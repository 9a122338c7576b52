#!/usr/bin/env python3
"""PyTorch (transformers) side of the CLIP ViT benchmark: images/s and texts/s at batch 1 and 32.

    python tools/reference/models/bench.py MODEL_DIR [--threads N] [--seconds S]

MODEL_DIR is the random-weight ViT-B/32 checkpoint written by make_fixtures.py --full-size.
Timing covers the model forward only (pixels / token ids prepared beforehand), the same scope as
the criterion bench `cargo bench -p cuelab-models --bench clip`, which reads the same directory
from CUELAB_BENCH_MODEL. Prints one JSON line per case.
"""

import argparse
import json
import time

import torch
from transformers import CLIPModel


def bench(fn, seconds):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 3:
            return dt / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = CLIPModel.from_pretrained(args.model_dir).eval()
    size = model.config.vision_config.image_size
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for batch in (1, 32):
            px = torch.randn(batch, 3, size, size, generator=g)
            per = bench(lambda: model.get_image_features(pixel_values=px), args.seconds)
            print(json.dumps({"impl": "pytorch", "what": "image", "batch": batch, "threads": args.threads,
                              "seconds_per_batch": per, "items_per_s": batch / per}))
        for batch in (1, 32):
            # 16-token captions: start, 14 words, end (typical short prompt).
            ids = torch.randint(1, 49000, (batch, 16), generator=g)
            ids[:, 0] = 49406
            ids[:, -1] = 49407
            per = bench(lambda: model.get_text_features(input_ids=ids), args.seconds)
            print(json.dumps({"impl": "pytorch", "what": "text", "batch": batch, "threads": args.threads,
                              "seconds_per_batch": per, "items_per_s": batch / per}))


if __name__ == "__main__":
    main()
