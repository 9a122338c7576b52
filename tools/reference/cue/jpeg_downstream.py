"""What exact JPEG decoding changes downstream: blur cue and CLIP image embeddings of JPEG photos.

    /opt/refenv/bin/python tools/reference/cue/jpeg_downstream.py [--cuelab PATH] [--skip-clip]

Once, not in CI (needs the cuelab binary and, for the CLIP part, torch + transformers).
1. `cuelab render PHOTO.jpg --box B --cue "blur(radius=20)" -o OUT.png` against Pillow on the same
   JPEG: `GaussianBlur(20)` of the decoded photo with the box pasted back sharp.
2. `cuelab embed --model DIR PHOTOS.jpg --preprocess hf` against transformers
   `CLIPModel.get_image_features` fed `CLIPImageProcessor(Image.open(p).convert('RGB'))`, with a
   random-weight ViT-B/32-shaped image tower (768 wide, 12 layers, patch 32, 224 px; the tiny
   text tower and tokenizer of crates/cuelab-models/tests/data/clip-vit-tiny).
Photos: assets/photos/{dog,eagle}.jpg and crates/cuelab-models/tests/data/images/kafka.jpg.
`--cuelab` defaults to $CARGO_TARGET_DIR/debug/cuelab (build it first: cargo build -p cuelab).
"""

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[3]
PHOTOS = [ROOT / "assets/photos/dog.jpg", ROOT / "assets/photos/eagle.jpg",
          ROOT / "crates/cuelab-models/tests/data/images/kafka.jpg"]


def blur_check(exe: Path, tmp: Path):
    print("blur(radius=20) outside a box, cuelab render vs Pillow, on the JPEG files:")
    worst = 0
    for photo in PHOTOS:
        img = Image.open(photo).convert("RGB")
        w, h = img.size
        box = [w // 4, h // 4, w // 2, h // 2]  # exclusive end
        out = tmp / f"{photo.stem}_blur.png"
        subprocess.run([str(exe), "render", str(photo), "--box", ",".join(map(str, box)), "--cue", "blur(radius=20)",
                        "-o", str(out)], check=True, capture_output=True)
        ref = img.filter(ImageFilter.GaussianBlur(radius=20))
        mask = Image.new("L", img.size, 0)
        ImageDraw.Draw(mask).rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=255)
        ref.paste(img, mask=mask)
        a = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
        b = np.asarray(ref, dtype=np.int16)
        d = np.abs(a - b)
        worst = max(worst, int(d.max()))
        print(f"  {photo.name:10s} {w}x{h}: max abs diff {d.max()}, mean {d.mean():.4f}, {int((d > 0).sum())} values differ")
    return worst


def clip_check(exe: Path, tmp: Path):
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    tiny = ROOT / "crates/cuelab-models/tests/data/clip-vit-tiny"
    cfg = CLIPConfig.from_pretrained(tiny)
    cfg.vision_config.hidden_size = 768
    cfg.vision_config.intermediate_size = 3072
    cfg.vision_config.num_hidden_layers = 12
    cfg.vision_config.num_attention_heads = 12
    cfg.vision_config.projection_dim = cfg.projection_dim
    torch.manual_seed(0)
    model = CLIPModel(cfg).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # O(1) activations, as tools/reference/models/make_fixtures.py does
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                fan_in = p[0].numel() if "embedding" not in name or "patch" in name else 1
                p.copy_((1.0 / np.sqrt(fan_in) if fan_in > 1 else 0.5) * torch.randn(p.shape, generator=g))
    mdir = tmp / "clip-vitb32-image-random"
    model.save_pretrained(mdir, safe_serialization=True)
    for f in ["preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(tiny / f, mdir / f)
    proc = CLIPImageProcessor.from_pretrained(mdir)
    out = tmp / "emb.npy"
    subprocess.run([str(exe), "embed", "--model", str(mdir), "--preprocess", "hf", *map(str, PHOTOS), "-o", str(out)],
                   check=True, capture_output=True)
    ours = np.load(out)
    print("CLIP ViT-B/32-shaped random image tower, cuelab embed vs transformers on Pillow's pixels (hf preprocessing):")
    worst = 1.0
    with torch.no_grad():
        for i, photo in enumerate(PHOTOS):
            px = proc(images=Image.open(photo).convert("RGB"), return_tensors="pt")["pixel_values"]
            ref = model.get_image_features(pixel_values=px)
            ref = getattr(ref, "pooler_output", ref)[0].numpy()
            a, b = ours[i] / np.linalg.norm(ours[i]), ref / np.linalg.norm(ref)
            cos = float(a @ b)
            worst = min(worst, cos)
            print(f"  {photo.name:10s}: cosine {cos:.9f}, normalised max abs diff {np.abs(a - b).max():.2e}")
    return worst


def main():
    ap = argparse.ArgumentParser()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ap.add_argument("--cuelab", default=str(target / "debug" / "cuelab"))
    ap.add_argument("--skip-clip", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cuelab-jpeg-downstream-"))
    exe = Path(args.cuelab)
    blur_check(exe, tmp)
    if not args.skip_clip:
        clip_check(exe, tmp)


if __name__ == "__main__":
    main()
