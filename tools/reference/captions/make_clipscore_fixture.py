"""CLIPScore / RefCLIPScore fixture (issue 17): the computation of the original implementation
(jmhessel/clipscore, `clipscore.py`: `CLIPCapDataset`, `CLIPImageDataset`, `get_clip_score`,
`get_refonlyclipscore`, and the harmonic mean in `main`), re-written here step by step against
transformers' CLIPModel so that it runs on the committed random-weight tiny CLIP (the original
loads OpenAI's ViT-B/32 through the `clip` package, which needs a download):

* candidates AND references are prefixed "A photo depicts " and tokenized with truncation to
  77 tokens (the last kept token replaced by end-of-text, as `clip.tokenize(truncate=True)`);
* images: `Image.open` then torchvision Resize(n_px, BICUBIC) on the shorter side,
  CenterCrop(n_px), convert('RGB'), ToTensor, Normalize(OpenAI mean/std);
* features L2-normalised; CLIPScore = 2.5 * max(cos(image, candidate), 0);
* text-text: max over the image's references of cos(candidate, reference), not clipped;
* RefCLIPScore = 2 a b / (a + b); corpus scores are means of the per-image scores.

    /opt/refenv/bin/python tools/reference/captions/make_clipscore_fixture.py

Writes crates/cuelab-tasks/tests/data/clipscore/expected.json (captions, references, the photo
each id uses, per-image scores, corpus means).
"""

import json
import os

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import CenterCrop, Compose, Normalize, Resize, ToTensor
from transformers import CLIPModel, CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODEL = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "clip-vit-tiny")
OUT = os.path.join(ROOT, "crates", "cuelab-tasks", "tests", "data", "clipscore")
PREFIX = "A photo depicts "
W = 2.5

# image id -> (photo path relative to the repository, candidate, references)
CASES = {
    "1": (
        "assets/photos/dog.jpg",
        "a dog sitting next to a bicycle",
        ["A dog sits by a bicycle.", "a brown dog on a porch", "Dog and bike"],
    ),
    "2": ("assets/photos/eagle.jpg", "An eagle in flight!", ["an eagle", "A bird of prey flying over water."]),
    "3": (
        "crates/cuelab-models/tests/data/images/kafka.jpg",
        "a man " + "in a dark suit and a hat " * 20,  # longer than 77 tokens: truncated
        ["Portrait of a man.", "A black and white photograph of a young man wearing a suit"],
    ),
    "4": ("assets/photos/dog.jpg", "", ["a dog"]),  # empty candidate: the prefix alone
    "5": ("assets/photos/eagle.jpg", "  café ÜBER   spaces  ", ["  whitespace   and Ümlauts  "]),
}


def transform(n_px):
    return Compose(
        [
            Resize(n_px, interpolation=Image.BICUBIC),
            CenterCrop(n_px),
            lambda image: image.convert("RGB"),
            ToTensor(),
            Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
        ]
    )


def tokenize(tok, texts):
    ids = tok(texts, truncation=True, max_length=77, padding="max_length", return_tensors="pt")
    return ids["input_ids"], ids["attention_mask"]


def normalize(x):
    return x / np.sqrt(np.sum(x**2, axis=1, keepdims=True))


def main():
    model = CLIPModel.from_pretrained(MODEL, dtype=torch.float32).eval()
    tok = CLIPTokenizer.from_pretrained(MODEL)
    n_px = model.config.vision_config.image_size
    pre = transform(n_px)
    ids = list(CASES)
    with torch.no_grad():
        images = torch.stack([pre(Image.open(os.path.join(ROOT, CASES[i][0]))) for i in ids])
        img = model.get_image_features(pixel_values=images)
        img = getattr(img, "pooler_output", img).numpy().astype(np.float64)
        t, m = tokenize(tok, [PREFIX + CASES[i][1] for i in ids])
        cand = model.get_text_features(input_ids=t, attention_mask=m)
        cand = getattr(cand, "pooler_output", cand).numpy().astype(np.float64)
        flat = [(k, r) for k, i in enumerate(ids) for r in CASES[i][2]]
        t, m = tokenize(tok, [PREFIX + r for _, r in flat])
        refs = model.get_text_features(input_ids=t, attention_mask=m)
        refs = getattr(refs, "pooler_output", refs).numpy().astype(np.float64)
    img, cand, refs = normalize(img), normalize(cand), normalize(refs)
    clip_score = W * np.clip(np.sum(img * cand, axis=1), 0, None)
    text_text = []
    for k in range(len(ids)):
        rows = np.vstack([refs[j] for j, (kk, _) in enumerate(flat) if kk == k])
        text_text.append(np.max(cand[k].dot(rows.T)))
    text_text = np.array(text_text)
    ref_clip = 2 * clip_score * text_text / (clip_score + text_text)
    os.makedirs(OUT, exist_ok=True)
    out = {
        "model": "crates/cuelab-models/tests/data/clip-vit-tiny",
        "prefix": PREFIX,
        "w": W,
        "cases": [
            {
                "id": i,
                "image": CASES[i][0],
                "candidate": CASES[i][1],
                "references": CASES[i][2],
                "clip_score": float(clip_score[k]),
                "ref_clip_score": float(ref_clip[k]),
            }
            for k, i in enumerate(ids)
        ],
        "clip_score_mean": float(np.mean(clip_score)),
        "ref_clip_score_mean": float(np.mean(ref_clip)),
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out["cases"], indent=1)[:1500])


if __name__ == "__main__":
    main()
