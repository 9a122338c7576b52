"""Reference fixtures for cuelab-tasks: torchvision.ops.box_iou on awkward boxes.

    /opt/refenv/bin/python tools/reference/tasks/make_fixtures.py
Writes crates/cuelab-tasks/tests/data/box_iou.json.
"""

import json
from pathlib import Path

import torch
import torchvision
from torchvision.ops import box_iou

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "crates" / "cuelab-tasks" / "tests" / "data"


def main():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=g) * 600
    wh = torch.rand(60, 2, generator=g) * 200
    boxes = torch.cat([xy, xy + wh], 1)
    # awkward cases: touching, contained, identical, sub-pixel, fractional, huge
    extra = torch.tensor(
        [
            [0, 0, 10, 10], [10, 0, 20, 10], [2, 2, 5, 5], [0, 0, 10, 10],
            [0.25, 0.5, 0.75, 1.0], [100.5, 200.25, 300.125, 400.0625], [-50, -50, 5000, 5000],
        ],
        dtype=torch.float32,
    )
    boxes = torch.cat([boxes.float(), extra], 0)
    iou = box_iou(boxes, boxes)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "box_iou.json").write_text(json.dumps({
        "generator": "tools/reference/tasks/make_fixtures.py",
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "boxes": boxes.tolist(),
        "iou": iou.tolist(),
    }))
    print("wrote", OUT / "box_iou.json")


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------------------------
# Grounding parity: a re-implementation of seed 004's scoring with transformers + Pillow on the
# tiny random-weight CLIP of crates/cuelab-models/tests/data/clip-vit-tiny.


def openai_preprocess(img, size):
    from torchvision import transforms as T

    tf = T.Compose([
        T.Resize(size, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(size),
        T.ToTensor(),
        T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    ])
    return tf(img.convert("RGB"))


def seed_cue(image, box, ellipse, gray):
    """Seed 004's get_image_with_marker_and_blur(_grayscale) with radius 20, width 3."""
    from PIL import ImageDraw, ImageFilter

    pb = [box[0], box[1], box[2] - 1, box[3] - 1]
    result = image.filter(ImageFilter.GaussianBlur(radius=20))
    if gray:
        result = result.convert("L").convert("RGB")
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rectangle(pb, fill=255)
    result.paste(image, mask=mask)
    if ellipse:
        ImageDraw.Draw(result).ellipse(pb, outline="red", width=3)
    return result


def grounding_fixture():
    from PIL import Image as PILImage, ImageDraw
    from transformers import CLIPModel, CLIPTokenizerFast

    global Image
    Image = PILImage
    model_dir = ROOT / "crates" / "cuelab-models" / "tests" / "data" / "clip-vit-tiny"
    model = CLIPModel.from_pretrained(model_dir).eval()
    tok = CLIPTokenizerFast.from_pretrained(model_dir)
    size = model.config.vision_config.image_size

    # a synthetic scene
    scene = Image.new("RGB", (200, 150), (235, 235, 230))
    d = ImageDraw.Draw(scene)
    d.rectangle([20, 30, 69, 79], fill=(220, 30, 30))
    d.ellipse([110, 20, 169, 79], fill=(30, 60, 220))
    d.polygon([(60, 140), (90, 90), (120, 140)], fill=(30, 160, 60))
    scene_path = OUT / "scene_0.png"
    scene.save(scene_path)
    cue_fixtures = ROOT / "crates" / "cuelab-cue" / "tests" / "fixtures"
    samples = [
        {"id": "scene0/0", "image": "crates/cuelab-tasks/tests/data/scene_0.png", "expression": "the red square",
         "target": [20, 30, 70, 80], "proposals": [[20, 30, 70, 80], [110, 20, 170, 80], [60, 90, 121, 141]]},
        {"id": "scene0/1", "image": "crates/cuelab-tasks/tests/data/scene_0.png", "expression": "the blue circle on the right",
         "target": [110, 20, 170, 80], "proposals": [[20, 30, 70, 80], [110, 20, 170, 80], [60, 90, 121, 141]]},
        {"id": "dog/0", "image": "crates/cuelab-cue/tests/fixtures/dog_src.png", "expression": "the dog",
         "target": [60, 40, 170, 150], "proposals": [[60, 40, 170, 150], [0, 0, 120, 90], [130, 20, 240, 180], [10, 100, 90, 175]]},
        {"id": "eagle/0", "image": "crates/cuelab-cue/tests/fixtures/eagle_src.png", "expression": "an eagle's head at the top",
         "target": [30, 20, 200, 170], "proposals": [[30, 20, 200, 170], [0, 0, 60, 60], [150, 100, 240, 180]]},
    ]
    debias_pool = ["a photo of a thing", "the object in the middle", "a small animal", "something red"]

    def text_emb(texts):
        batch = tok(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        with torch.no_grad():
            e = model.get_text_features(**batch)
        if not torch.is_tensor(e):  # transformers 5 returns an output object
            e = e.pooler_output
        return torch.nn.functional.normalize(e, dim=-1)

    def image_emb(images):
        px = torch.stack([openai_preprocess(i, size) for i in images])
        with torch.no_grad():
            e = model.get_image_features(pixel_values=px)
        if not torch.is_tensor(e):
            e = e.pooler_output
        return torch.nn.functional.normalize(e, dim=-1)

    variants = {
        "baseline": {"method": "baseline", "cues": [], "template": "{expr}", "debias": 0, "aggregate": "mean"},
        "blur_only": {"method": "redcircle", "cues": ["blur(radius=20)", "blur(radius=20)+gray"],
                      "template": "This is {expr}", "debias": 4, "aggregate": "mean"},
        "seed": {"method": "redcircle", "cues": ["ellipse(color=red,width=3)+blur(radius=20)",
                                                  "ellipse(color=red,width=3)+blur(radius=20)+gray"],
                 "template": "This is {expr}", "debias": 4, "aggregate": "mean"},
        "seed_max_nodebias": {"method": "redcircle", "cues": ["ellipse(color=red,width=3)+blur(radius=20)",
                                                               "ellipse(color=red,width=3)+blur(radius=20)+gray"],
                              "template": "This is {expr}", "debias": 0, "aggregate": "max"},
    }
    results = []
    for s in samples:
        image = Image.open(ROOT / s["image"]).convert("RGB")
        for name, v in variants.items():
            prompt = v["template"].replace("{expr}", s["expression"])
            t = text_emb([prompt])[0]
            if v["method"] == "baseline":
                per_recipe = [[image.crop(tuple(b)) for b in s["proposals"]]]
            else:
                per_recipe = []
                for spec in v["cues"]:
                    ellipse, gray = "ellipse" in spec, "gray" in spec
                    per_recipe.append([seed_cue(image, b, ellipse, gray) for b in s["proposals"]])
            bias = None
            if v["debias"]:
                bias = text_emb([v["template"].replace("{expr}", e) for e in debias_pool]).mean(0)
            scores = []
            for imgs in per_recipe:
                e = image_emb(imgs)
                sc = e @ t
                if bias is not None:
                    sc = sc - e @ bias
                scores.append(sc)
            scores = torch.stack(scores)
            final = scores.mean(0) if v["aggregate"] == "mean" else scores.max(0).values
            results.append({"sample": s["id"], "variant": name, "recipe_scores": scores.tolist(),
                            "scores": final.tolist(), "chosen": int(final.argmax())})
    (OUT / "grounding_parity.json").write_text(json.dumps({
        "generator": "tools/reference/tasks/make_fixtures.py",
        "model": "crates/cuelab-models/tests/data/clip-vit-tiny", "preprocess": "openai",
        "samples": samples, "debias_pool": debias_pool, "variants": variants, "results": results,
    }, indent=1))
    print("wrote", OUT / "grounding_parity.json")


if __name__ == "__main__":
    grounding_fixture()
