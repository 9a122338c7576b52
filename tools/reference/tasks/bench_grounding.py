"""Side-by-side end-to-end grounding benchmark: cuelab vs a seed-004-style Python pipeline.

    /opt/refenv/bin/python tools/reference/tasks/bench_grounding.py [--scenes 20]

Both sides: the same synthetic scenes (`cuelab scenes`), ground-truth proposals, the same
random-weight CLIP with ViT-B/32 shapes (vision 768x12, patch 32, 224 px; text 512x12; the tiny
fixture's 2,014-token vocabulary so no download is needed), OpenAI preprocessing, both methods:
baseline crops and red circle (ellipse + blur 20, and + gray; "This is {expr}"; debias over the
run's expressions). The Python side does what the seed notebook does: per referring expression,
Pillow renders every cued proposal (re-blurring each time), torchvision preprocesses, transformers
encodes. Times include model loading on both sides. cuelab runs with a fresh run directory (its
embedding cache starts empty; identical cued images of one image are encoded once).
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFilter
from transformers import CLIPConfig, CLIPModel, CLIPTokenizerFast
from torchvision import transforms as T
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bench_bin  # noqa: E402  (tools/reference/bench_bin.py: the release binaries)

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "crates" / "cuelab-models" / "tests" / "data" / "clip-vit-tiny"


def vit_b32_config(vocab_size, bos, eos, pad):
    """OpenAI CLIP ViT-B/32's shapes (quick_gelu) over a vocabulary of `vocab_size` ids."""
    return CLIPConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=512, intermediate_size=2048, num_attention_heads=8,
                         num_hidden_layers=12, max_position_embeddings=77, bos_token_id=bos,
                         eos_token_id=eos, pad_token_id=pad, hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                           image_size=224, patch_size=32, hidden_act="quick_gelu"),
        projection_dim=512,
    )


def make_checkpoint(path: Path):
    if (path / "model.safetensors").exists():
        return
    tiny = json.loads((TINY / "config.json").read_text())
    t = tiny["text_config"]
    cfg = vit_b32_config(t["vocab_size"], t["bos_token_id"], t["eos_token_id"], t["pad_token_id"])
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(path)
    for f in ["tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"]:
        if (TINY / f).exists():
            shutil.copy(TINY / f, path / f)
    for f in TINY.glob("*.txt"):
        shutil.copy(f, path / f.name)


def cue(image, b, gray):
    pb = [b[0], b[1], b[2] - 1, b[3] - 1]
    r = image.filter(ImageFilter.GaussianBlur(radius=20))
    if gray:
        r = r.convert("L").convert("RGB")
    m = Image.new("L", image.size, 0)
    ImageDraw.Draw(m).rectangle(pb, fill=255)
    r.paste(image, mask=m)
    ImageDraw.Draw(r).ellipse(pb, outline="red", width=3)
    return r


def python_pipeline(ckpt: Path, samples):
    t0 = time.perf_counter()
    model = CLIPModel.from_pretrained(ckpt).eval()
    tok = CLIPTokenizerFast.from_pretrained(ckpt)
    pre = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                     T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])

    def feats(x):
        return torch.nn.functional.normalize(x if torch.is_tensor(x) else x.pooler_output, dim=-1)

    def text(texts):
        with torch.no_grad():
            return feats(model.get_text_features(**tok(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")))

    def images(ims):
        with torch.no_grad():
            return feats(model.get_image_features(pixel_values=torch.stack([pre(i) for i in ims])))

    pool = sorted({s["expression"] for s in samples})
    bias = text(["This is " + e for e in pool]).mean(0)  # the seed precomputes debias features once
    chosen = []
    for s in samples:
        image = Image.open(s["image"]).convert("RGB")
        props = s["proposals"]
        crops = images([image.crop(tuple(b)) for b in props])
        base = crops @ text([s["expression"]])[0]
        t = text(["This is " + s["expression"]])[0]
        scores = 0
        for gray in (False, True):
            e = images([cue(image, b, gray) for b in props])
            scores = scores + (e @ t - e @ bias) / 2
        chosen.append((int(base.argmax()), int(scores.argmax())))
    return time.perf_counter() - t0, chosen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cuelab-ground-bench-"))
    ckpt = Path(tempfile.gettempdir()) / "cuelab-bench-clip-vitb32-random"
    make_checkpoint(ckpt)
    exe = bench_bin.binary("cuelab")
    print(f"cuelab {bench_bin.profile()} build: {exe}")
    subprocess.run([str(exe), "scenes", "--seed", "3", "--n", str(args.scenes), "-o", str(tmp / "scenes")], check=True, capture_output=True)
    # the same grounding rows cuelab will use (one per referring expression)
    samples = []
    for line in (tmp / "scenes" / "samples.jsonl").read_text().splitlines():
        s = json.loads(line)
        if s.get("task") != "grounding" or not s.get("target"):
            continue
        image = str((tmp / "scenes" / s["image"]).resolve()) if not os.path.isabs(s["image"]) else s["image"]
        boxes = [[b["x0"], b["y0"], b["x1"], b["y1"]] for b in s["proposals"]]
        for e in s.get("expressions", []):
            samples.append({"image": image, "expression": e["raw"], "proposals": boxes})
    torch.set_num_threads(os.cpu_count() or 1)
    py_s, _ = python_pipeline(ckpt, samples)

    t0 = time.perf_counter()
    subprocess.run([str(exe), "ground", "--data", str(tmp / "scenes" / "samples.jsonl"), "--model", str(ckpt),
                    "--debias", "5000", "-o", str(tmp / "run")], check=True, capture_output=True)
    rs_s = time.perf_counter() - t0
    n = len(samples)
    print(f"{args.scenes} scenes, {n} referring expressions x 2 methods, ViT-B/32-shape random CLIP, {os.cpu_count()} threads")
    print(f"python (seed-style: Pillow + torchvision + transformers): {py_s:7.2f} s  {n / py_s:6.2f} expressions/s")
    print(f"cuelab ground ({bench_bin.profile()} build, fresh run dir):             {rs_s:7.2f} s  {n / rs_s:6.2f} expressions/s")
    print(f"ratio: {py_s / rs_s:.2f}x")
    timing = json.loads((tmp / "run" / "timing.json").read_text())
    print("cuelab time per stage (summed over samples): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()))


if __name__ == "__main__":
    main()
