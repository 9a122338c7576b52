"""Reference for `cuelab score` through the CLI: transformers' CLIPModel on the committed tiny
random-weight CLIP (crates/cuelab-models/tests/data/clip-vit-tiny), two JPEG photos and messy
texts (empty, whitespace, capitals, accents, emoji, punctuation runs, a text longer than CLIP's
77 tokens), preprocessed by its CLIPImageProcessor (the `hf` pipeline) from Pillow's decode.

Writes crates/cuelab/tests/data/score/expected.json: per image x text the cosine of the
projected embeddings, `logits_per_image` (exp(logit_scale) x cosine) and the softmax over the
texts, as CLIPModel.forward computes them.

Run: /opt/refenv/bin/python tools/reference/models/make_score_fixture.py
"""

import json
import os

import torch
from PIL import Image
from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "clip-vit-tiny")
OUT = os.path.join(ROOT, "crates", "cuelab", "tests", "data", "score")

# Repository-relative paths: JPEG photos as users give them.
IMAGES = [
    "assets/photos/dog.jpg",
    "crates/cuelab-models/tests/data/images/kafka.jpg",
]

TEXTS = [
    "a photo of a dog",
    "  A DOG   on the GRASS!!!  ",
    "",
    "   ",
    "café crème, naïve façade — déjà vu",
    "🐶 dog emoji 🐕‍🦺",
    "a cat?!?! ... ,,, ;;",
    "line one\nline two\ttabbed",
    "dog " * 100,
]


def main():
    torch.manual_seed(0)
    model = CLIPModel.from_pretrained(MODEL).eval()
    tok = CLIPTokenizerFast.from_pretrained(MODEL)
    proc = CLIPImageProcessor.from_pretrained(MODEL)
    images = [Image.open(os.path.join(ROOT, p)).convert("RGB") for p in IMAGES]
    with torch.no_grad():
        px = proc(images=images, return_tensors="pt")["pixel_values"]
        enc = tok(TEXTS, padding=True, truncation=True, max_length=77, return_tensors="pt")
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=px)
        img = out.image_embeds / out.image_embeds.norm(dim=-1, keepdim=True)
        txt = out.text_embeds / out.text_embeds.norm(dim=-1, keepdim=True)
        cos = img @ txt.T
        logits = out.logits_per_image
        probs = logits.softmax(dim=-1)
    os.makedirs(OUT, exist_ok=True)
    ref = {
        "source": "tools/reference/models/make_score_fixture.py (transformers CLIPModel, "
        "CLIPImageProcessor, CLIPTokenizerFast; torch float32)",
        "model": "crates/cuelab-models/tests/data/clip-vit-tiny",
        "images": IMAGES,
        "texts": TEXTS,
        "logit_scale": float(model.logit_scale.detach().exp()),
        "cosine": cos.tolist(),
        "logit": logits.tolist(),
        "probability": probs.tolist(),
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)
    print(f"wrote {OUT}/expected.json: {len(IMAGES)} images x {len(TEXTS)} texts")


if __name__ == "__main__":
    main()
