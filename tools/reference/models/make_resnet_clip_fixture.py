#!/usr/bin/env python3
"""Tiny random-weight OpenAI-style ResNet CLIP (open_clip's own classes) and the OpenAI BPE
tokenizer fixture for `crates/cuelab-models/tests/`.

Run with the reference venv: /opt/refenv/bin/python tools/reference/models/make_resnet_clip_fixture.py
(`--full-size OUT_DIR RN50x16` instead writes a random-weight full-size checkpoint, not committed,
for the one-off run of the ignored test `full_size_resnet_parity`.)

Writes crates/cuelab-models/tests/data/clip-rn-tiny/:
- model.safetensors      open_clip / OpenAI state-dict layout (visual.conv1..., visual.attnpool...,
                         token_embedding, transformer.resblocks.N.attn.in_proj_weight, ...)
- open_clip_config.json  {"model_cfg": {...}, "preprocess_cfg": {...}}
- reference.json         image embeddings of assets/photos/{dog,eagle}.jpg through OpenAI
                         preprocessing (Pillow decode), text ids and embeddings, logits; the
                         preprocessed pixels' checksum
and crates/cuelab-models/tests/data/reference/openai_bpe.json: strings -> open_clip
SimpleTokenizer ids (context 77, truncating), plus the ftfy-cleaned text of each string.

Weights (and BatchNorm running statistics) are random with a fixed seed so that eval-mode
BatchNorm, attention pooling and every layer matter.
"""

import json
import os
import random
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import open_clip
from open_clip.tokenizer import SimpleTokenizer, basic_clean

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data")
sys.path.insert(0, HERE)
from make_fixtures import captions, openai_crop_u8, openai_preprocess  # noqa: E402

MODEL_CFG = {
    "embed_dim": 16,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 64, "layers": [2, 1, 1, 1], "width": 6, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 8, "heads": 2, "layers": 2},
}
PREPROCESS_CFG = {
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}
TEXTS = [
    "a photo of a dog",
    "a photo of an eagle",
    "A bird, flying over the Alps!",
    "Café crème — “quoted” 123",
    "",
    "this is a very long caption " * 20,
]


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("logit_scale"):
                p.fill_(4.6052)
            elif ("bn" in name or "ln" in name or ".downsample.1." in name) and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif name == "text_projection":
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(p.shape[0]))
            elif p.dim() >= 2:
                fan_in = p[0].numel() if "embedding" not in name else 1
                std = 1.0 / np.sqrt(fan_in) if fan_in > 1 else 0.5
                p.copy_(std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))


def tokenizer_strings():
    out = list(captions())
    rng = random.Random(1)
    extra = [
        "I'M HERE, YOU'RE THERE, WE'VE GONE, THEY'LL COME, HE'D SAY, SHE'S OK",
        "numbers 3.14159 1,000,000 42nd 1st 2e10 0x1F",
        "tabs\tand\x0bvertical\x0cform feed\r\nCRLF\u2028line sep\u00a0nbsp",
        "ÀÉÎÕÜ àéîõü ñ Ñ ç Ç ø Ø å Å æ Æ œ",
        "Привет мир, Ελληνικά, עברית, العربية, हिन्दी, ไทย",
        "日本語のテキストと中文文本와 한국어",
        "symbols !@#$%^&*()_+-=[]{}|;':\",./<>?`~",
        "'s't're've'm'll'd standalone 'S 'T",
        "mixed123letters456 and 7-8-9",
        "&quot;double&quot; &amp;amp; &#39;apos&#39; &eacute;",
        "  leading and trailing   ",
        "under_score snake_case CamelCase kebab-case",
        "🙂🙃 👩‍👩‍👧 flags 🇫🇷🇩🇪 skin 👍🏽",
        "x" * 90,
        ("word " * 80).strip(),
        "a" + " b" * 75,
        "a" + " b" * 74,
        "a" + " b" * 76,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "https://example.com/path?query=1&x=y#frag",
        "email@example.com, @handle #hashtag",
        "½ ¼ ² ³ ° ± × ÷ µ",
        "<start_of_text>open_clip <END_OF_TEXT> specials",
        "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３！",
        "ligatures ﬁ ﬂ ﬀ ﬃ ĳ ŉ ǌ and ‘curly’ „quotes‟ ʼ",
        "control\x00\x07\x1b\x7f chars\u200b zero\u2060width\ufeffbom",
        "decomposed e\u0301 a\u0308 vs composed é ä",
        "&lt;&lt;nested&amp;lt;&gt;&#x1F600;&#128512;&#150;&nbsp;x",
    ]
    out.extend(extra)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP0123456789 .,;:!?'\"-()éüßçñø日本語Ωπ🙂"
    while len(out) < 400:
        n = rng.randint(1, 60)
        out.append("".join(rng.choice(alphabet) for _ in range(n)))
    return out


VIT_CFG = {
    "embed_dim": 16,
    "quick_gelu": False,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 16, "patch_size": 8, "head_width": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 8, "heads": 2, "layers": 1},
}


def vit_fixture(tok, prep_names, photos):
    """A tiny open_clip ViT in the laion/open_clip state-dict layout (GELU, as laion models)."""
    out_dir = os.path.join(DATA, "open-clip-vit-tiny")
    os.makedirs(out_dir, exist_ok=True)
    model = open_clip.model.CLIP(
        embed_dim=VIT_CFG["embed_dim"],
        vision_cfg=open_clip.model.CLIPVisionCfg(**VIT_CFG["vision_cfg"]),
        text_cfg=open_clip.model.CLIPTextCfg(**VIT_CFG["text_cfg"]),
        quick_gelu=False,
    )
    randomize(model, 99)
    model.eval()
    with torch.no_grad():
        model.token_embedding.weight.copy_(model.token_embedding.weight.half().float())
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    sd.pop("attn_mask", None)
    sd["token_embedding.weight"] = sd["token_embedding.weight"].half()
    save_file(sd, os.path.join(out_dir, "open_clip_model.safetensors"))
    with open(os.path.join(out_dir, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": VIT_CFG, "preprocess_cfg": PREPROCESS_CFG}, f, indent=2)
    prep = openai_preprocess(32)
    for n in prep_names:
        crop = openai_crop_u8(Image.open(os.path.join(photos, n)), 32)
        crop.save(os.path.join(out_dir, n.replace(".jpg", ".crop.png")))
    pix = torch.stack([prep(Image.open(os.path.join(photos, n))) for n in prep_names])
    ids = tok(TEXTS)
    with torch.no_grad():
        im = model.encode_image(pix)
        tx = model.encode_text(ids)
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({"images": prep_names, "image_embeds": im.tolist(), "texts": TEXTS,
                   "text_embeds": tx.tolist(),
                   "logit_scale": float(model.logit_scale.detach().exp())}, f)


def full_size(out_dir, name):
    """Random-weight full-size OpenAI ResNet (open_clip's model_configs/NAME.json, quick_gelu) with
    reference embeddings, for the one-off full-size parity run (not committed)."""
    cfg_path = os.path.join(os.path.dirname(open_clip.__file__), "model_configs", f"{name}.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["quick_gelu"] = True
    cfg["vision_cfg"].pop("patch_size", None)
    model = open_clip.model.CLIP(
        embed_dim=cfg["embed_dim"],
        vision_cfg=open_clip.model.CLIPVisionCfg(**cfg["vision_cfg"]),
        text_cfg=open_clip.model.CLIPTextCfg(**cfg["text_cfg"]),
        quick_gelu=True,
    )
    randomize(model, 7)
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    sd.pop("attn_mask", None)
    save_file(sd, os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": cfg, "preprocess_cfg": PREPROCESS_CFG}, f, indent=2)
    n = cfg["vision_cfg"]["image_size"]
    photos = os.path.join(ROOT, "assets", "photos")
    names = ["dog.jpg", "eagle.jpg"]
    for nm in names:
        openai_crop_u8(Image.open(os.path.join(photos, nm)), n).save(
            os.path.join(out_dir, nm.replace(".jpg", ".crop.png")))
    prep = openai_preprocess(n)
    pix = torch.stack([prep(Image.open(os.path.join(photos, nm))) for nm in names])
    tok = SimpleTokenizer()
    with torch.no_grad():
        im = model.encode_image(pix)
        tx = model.encode_text(tok(TEXTS))
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({"images": names, "image_embeds": im.tolist(), "texts": TEXTS,
                   "text_embeds": tx.tolist()}, f)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--full-size":
        full_size(sys.argv[2], sys.argv[3])
        return
    torch.manual_seed(0)
    out_dir = os.path.join(DATA, "clip-rn-tiny")
    os.makedirs(out_dir, exist_ok=True)
    model = open_clip.model.CLIP(
        embed_dim=MODEL_CFG["embed_dim"],
        vision_cfg=open_clip.model.CLIPVisionCfg(**MODEL_CFG["vision_cfg"]),
        text_cfg=open_clip.model.CLIPTextCfg(**MODEL_CFG["text_cfg"]),
        quick_gelu=True,
    )
    randomize(model, 1234)
    model.eval()
    with torch.no_grad():
        # The token table dominates the file; it is stored as f16 (the reference uses the same
        # f16-rounded values, so nothing is lost in the comparison).
        model.token_embedding.weight.copy_(model.token_embedding.weight.half().float())
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    sd["token_embedding.weight"] = sd["token_embedding.weight"].half()
    sd.pop("attn_mask", None)
    save_file(sd, os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "open_clip_config.json"), "w") as f:
        json.dump({"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}, f, indent=2)

    tok = SimpleTokenizer()
    prep = openai_preprocess(64)
    photos = os.path.join(ROOT, "assets", "photos")
    names = ["dog.jpg", "eagle.jpg"]
    pix = torch.stack([prep(Image.open(os.path.join(photos, n))) for n in names])
    # The Pillow-decoded, resized and cropped uint8 inputs, so the model can be compared on
    # exactly the reference's pixels (the JPEG decoders differ by a grey level here and there).
    for n in names:
        crop = openai_crop_u8(Image.open(os.path.join(photos, n)), 64)
        crop.save(os.path.join(out_dir, n.replace(".jpg", ".crop.png")))
    ids = tok(TEXTS)
    with torch.no_grad():
        im = model.encode_image(pix)
        tx = model.encode_text(ids)
        imn = im / im.norm(dim=-1, keepdim=True)
        txn = tx / tx.norm(dim=-1, keepdim=True)
        logits = model.logit_scale.exp() * imn @ txn.T
        # A non-square, un-preprocessed input straight through the tower is not defined for
        # attention pooling (fixed positional grid), so the checks use the model's square size;
        # the photos themselves are non-square (crop offsets exercised).
    ref = {
        "images": names,
        "pixel_sum": [float(p.double().sum()) for p in pix],
        "image_embeds": im.tolist(),
        "texts": TEXTS,
        "text_ids": [[int(t) for t in row if t != 0] for row in ids],
        "text_embeds": tx.tolist(),
        "logit_scale": float(model.logit_scale.detach().exp()),
        "logits": logits.tolist(),
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f)

    vit_fixture(tok, prep_names=names, photos=photos)

    strings = tokenizer_strings()
    rows = []
    for s in strings:
        full = [tok.sot_token_id] + tok.encode(basic_clean(s).strip()) + [tok.eot_token_id]
        t = tok([s])[0].tolist()
        rows.append({
            "text": s,
            "cleaned": " ".join(basic_clean(s).split()).lower(),
            "ids": [int(x) for x in t[: max(1, min(77, len(full)))]],
            "untruncated_len": len(full),
        })
    os.makedirs(os.path.join(DATA, "reference"), exist_ok=True)
    with open(os.path.join(DATA, "reference", "openai_bpe.json"), "w") as f:
        json.dump(rows, f, ensure_ascii=False)
    print("params", sum(v.numel() for v in sd.values()), "strings", len(rows))


if __name__ == "__main__":
    main()
