#!/usr/bin/env python3
"""PyTorch (transformers) side of the CLIP ViT benchmark: images/s and texts/s at batch 1 and 32.

    python tools/reference/models/bench.py MODEL_DIR [--threads N] [--seconds S]

MODEL_DIR is a HF-layout CLIP checkpoint (config.json; run with transformers), e.g. the
random-weight ViT-B/32 written by make_fixtures.py --full-size, or an open_clip-layout ResNet CLIP
(open_clip_config.json + model.safetensors; run with open_clip), e.g. the random-weight RN50x16
written by make_resnet_clip_fixture.py --full-size. Timing covers the model forward only (pixels /
token ids prepared beforehand), the same scope as the cuelab side,
the release example `clip_speed MODEL_DIR` (tools/reference/bench_bin.py) (and the criterion bench
`cargo bench -p cuelab-models --bench clip` for HF checkpoints). Prints one JSON line per case.
"""

import argparse
import json
import time

import os

import torch
from transformers import CLIPModel


class OpenClipResnet:
    """An open_clip-layout checkpoint behind the two calls the benchmark makes."""

    def __init__(self, model_dir):
        import open_clip
        from safetensors.torch import load_file

        with open(os.path.join(model_dir, "open_clip_config.json")) as f:
            cfg = json.load(f)["model_cfg"]
        vision = dict(cfg["vision_cfg"])
        vision.pop("patch_size", None)
        self.model = open_clip.model.CLIP(
            embed_dim=cfg["embed_dim"],
            vision_cfg=open_clip.model.CLIPVisionCfg(**vision),
            text_cfg=open_clip.model.CLIPTextCfg(**cfg["text_cfg"]),
            quick_gelu=cfg.get("quick_gelu", True),
        ).eval()
        self.model.load_state_dict(load_file(os.path.join(model_dir, "model.safetensors")), strict=False)
        self.image_size = vision["image_size"]

    def get_image_features(self, pixel_values):
        return self.model.encode_image(pixel_values)

    def get_text_features(self, input_ids):
        return self.model.encode_text(input_ids)


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
    ap.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    if os.path.exists(os.path.join(args.model_dir, "config.json")):
        model = CLIPModel.from_pretrained(args.model_dir).eval()
        size = model.config.vision_config.image_size
    else:
        model = OpenClipResnet(args.model_dir)
        size = model.image_size
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for batch in batches:
            px = torch.randn(batch, 3, size, size, generator=g)
            per = bench(lambda: model.get_image_features(pixel_values=px), args.seconds)
            print(json.dumps({"impl": "pytorch", "what": "image", "batch": batch, "threads": args.threads,
                              "seconds_per_batch": per, "items_per_s": batch / per}))
        for batch in batches:
            # 16-token captions: start, 14 words, end (typical short prompt).
            ids = torch.randint(1, 49000, (batch, 16), generator=g)
            ids[:, 0] = 49406
            ids[:, -1] = 49407
            if isinstance(model, OpenClipResnet):
                # open_clip always runs the full 77-token context (zero padding after the end
                # token); cuelab trims to the longest row, exact under the causal mask.
                ids = torch.cat([ids, torch.zeros(batch, 77 - 16, dtype=ids.dtype)], dim=1)
            per = bench(lambda: model.get_text_features(input_ids=ids), args.seconds)
            print(json.dumps({"impl": "pytorch", "what": "text", "batch": batch, "threads": args.threads,
                              "seconds_per_batch": per, "items_per_s": batch / per}))


if __name__ == "__main__":
    main()
