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


def seed_cue(image, box, ellipse, gray, width=3, blur=True):
    """Seed 004's get_image_with_marker_and_blur(_grayscale) with radius 20, width 3 (cuelab box
    [x0, y0, x1, y1) given to Pillow as [x0, y0, x1 - 1, y1 - 1])."""
    from PIL import ImageDraw, ImageFilter

    pb = [box[0], box[1], box[2] - 1, box[3] - 1]
    if blur:
        result = image.filter(ImageFilter.GaussianBlur(radius=20))
        if gray:
            result = result.convert("L").convert("RGB")
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).rectangle(pb, fill=255)
        result.paste(image, mask=mask)
    else:
        result = image.copy()
    if ellipse:
        ImageDraw.Draw(result).ellipse(pb, outline="red", width=width)
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




# ---------------------------------------------------------------------------------------------
# RefCOCO-format grounding parity (issue 13): seed 004's scoring on a refs pickle + instances.json
# with a train split. Expressions are the refs' `sent` field (or `raw`); debias prompts are drawn
# from the TRAIN split's expressions with replacement (SplitMix64, as cuelab draws them); per
# visual prompt the mean similarity over the given prompts of the ref together with the debias
# prompts is subtracted (seed 004 §6.2: `average = similarity.mean(dim=0)` over all rows, then the
# given rows are kept); the red ellipse is Pillow's.

M64 = (1 << 64) - 1


def splitmix64(seed):
    state = seed & M64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def draw_with_replacement(pool, n, seed):
    rng = splitmix64(seed)
    return [pool[next(rng) % len(pool)] for _ in range(n)]


def refcoco_fixture_files():
    """Write crates/cuelab-tasks/tests/data/refcoco/: refs(umd).p, instances.json, images/."""
    import pickle

    from PIL import Image as PILImage, ImageDraw

    d = OUT / "refcoco"
    (d / "images").mkdir(parents=True, exist_ok=True)
    scene = PILImage.new("RGB", (200, 150), (235, 235, 230))
    dr = ImageDraw.Draw(scene)
    dr.rectangle([20, 30, 69, 79], fill=(220, 30, 30))
    dr.ellipse([110, 20, 169, 79], fill=(30, 60, 220))
    dr.polygon([(60, 140), (90, 90), (120, 140)], fill=(30, 160, 60))
    scene.save(d / "images" / "COCO_train2014_000000000001.png")
    photos = ROOT / "assets" / "photos"
    dog = PILImage.open(photos / "dog.jpg").convert("RGB").crop((140, 120, 300, 240))
    dog.save(d / "images" / "COCO_train2014_000000000002.png")
    eagle = PILImage.open(photos / "eagle.jpg").convert("RGB").crop((300, 80, 461, 199))
    eagle.save(d / "images" / "COCO_train2014_000000000003.png")
    images = [
        {"id": 1, "file_name": "COCO_train2014_000000000001.png", "width": 200, "height": 150},
        {"id": 2, "file_name": "COCO_train2014_000000000002.png", "width": 160, "height": 120},
        {"id": 3, "file_name": "COCO_train2014_000000000003.png", "width": 161, "height": 119},
    ]
    # xywh, integer, inside the image; odd and even sizes
    anns = [
        (101, 1, 1, [20, 30, 50, 50]), (102, 1, 2, [110, 20, 60, 60]), (103, 1, 3, [60, 90, 61, 51]),
        (201, 2, 18, [30, 10, 101, 99]), (202, 2, 4, [0, 0, 61, 45]), (203, 2, 5, [90, 60, 70, 60]),
        (301, 3, 16, [40, 10, 87, 93]), (302, 3, 5, [0, 70, 50, 49]), (303, 3, 4, [120, 0, 41, 40]),
    ]
    annotations = [{"id": a, "image_id": im, "category_id": c, "bbox": b, "area": float(b[2] * b[3]),
                    "iscrowd": 0, "segmentation": [[b[0], b[1], b[0] + b[2], b[1], b[0] + b[2], b[1] + b[3]]]}
                   for a, im, c, b in anns]
    cats = [{"id": i, "name": n, "supercategory": "x"} for i, n in
            [(1, "square"), (2, "circle"), (3, "triangle"), (4, "thing"), (5, "plant"), (16, "bird"), (18, "dog")]]
    (d / "instances.json").write_text(json.dumps({"images": images, "annotations": annotations, "categories": cats}))

    def sent(i, raw, s):
        return {"tokens": s.split(), "raw": raw, "sent_id": i, "sent": s}

    # (ref_id, image, ann, split, [(raw, sent)])
    spec = [
        (0, 1, 101, "train", [("The red square.", "the red square"), ("RED box, left", "red box left")]),
        (1, 1, 102, "train", [("Blue circle!", "blue circle")]),
        (2, 2, 201, "train", [("A dog lying down.", "a dog lying down"), ("the red square", "the red square")]),
        (3, 3, 301, "train", [("Eagle's head.", "eagle s head"), ("bird on the left?", "bird on the left")]),
        (4, 2, 203, "train", [("Bottom-right corner", "bottom right corner")]),
        (10, 1, 101, "val", [("The RED square, on the left!", "the red square on the left"),
                             ("Red block.", "red block")]),
        (11, 1, 103, "val", [("Green triangle at the bottom.", "green triangle at the bottom")]),
        (12, 2, 201, "val", [("Man's best friend -- the dog.", "man s best friend the dog"),
                             ("Brown dog in the middle", "brown dog in the middle"),
                             ("A DOG.", "a dog")]),
        (13, 3, 301, "val", [("An eagle, looking right.", "an eagle looking right")]),
        (14, 3, 303, "test", [("top right corner", "top right corner")]),
    ]
    refs, sid = [], 0
    for ref_id, im, ann, split, sents in spec:
        ss = []
        for raw, s in sents:
            ss.append(sent(sid, raw, s))
            sid += 1
        cat = next(c for a, i, c, _ in anns if a == ann)
        refs.append({"image_id": im, "split": split, "sentences": ss,
                     "file_name": f"COCO_train2014_{im:012d}_{ann}.jpg", "category_id": cat,
                     "ann_id": ann, "sent_ids": [x["sent_id"] for x in ss], "ref_id": ref_id})
    with open(d / "refs(umd).p", "wb") as f:
        pickle.dump(refs, f, protocol=2)
    return d, refs, images, anns


def refcoco_grounding_fixture():
    from PIL import Image as PILImage
    from transformers import CLIPModel, CLIPTokenizerFast

    global Image
    Image = PILImage
    d, refs, images, anns = refcoco_fixture_files()
    model_dir = ROOT / "crates" / "cuelab-models" / "tests" / "data" / "clip-vit-tiny"
    model = CLIPModel.from_pretrained(model_dir).eval()
    tok = CLIPTokenizerFast.from_pretrained(model_dir)
    size = model.config.vision_config.image_size

    def text_emb(texts):
        batch = tok(texts, padding=True, truncation=True, max_length=77, return_tensors="pt")
        with torch.no_grad():
            e = model.get_text_features(**batch)
        if not torch.is_tensor(e):
            e = e.pooler_output
        return torch.nn.functional.normalize(e, dim=-1)

    def image_emb(imgs):
        px = torch.stack([openai_preprocess(i, size) for i in imgs])
        with torch.no_grad():
            e = model.get_image_features(pixel_values=px)
        if not torch.is_tensor(e):
            e = e.pooler_output
        return torch.nn.functional.normalize(e, dim=-1)

    seed, n_debias, split = 3, 9, "val"
    cues = ["ellipse(color=red,width=3)+blur(radius=20)", "ellipse(color=red,width=3)+blur(radius=20)+gray"]
    variants = {
        "baseline": {"method": "baseline", "cues": [], "template": "{expr}", "debias": 0, "aggregate": "mean"},
        "seed": {"method": "redcircle", "cues": cues, "template": "This is {expr}", "debias": n_debias,
                 "aggregate": "mean"},
        "seed_max": {"method": "redcircle", "cues": cues, "template": "This is {expr}", "debias": n_debias,
                     "aggregate": "max"},
        "ellipse_only_nodebias": {"method": "redcircle", "cues": ["ellipse(color=red,width=5)"],
                                  "template": "This is {expr}", "debias": 0, "aggregate": "mean"},
    }
    by_ann = {a: b for a, _, _, b in anns}
    per_image = {}
    for a, im, _, _ in anns:
        per_image.setdefault(im, []).append(a)
    results = {}
    drawn_by_field = {}
    for field in ["sent", "raw"]:
        train_pool = [s[field] for r in refs if r["split"] == "train" for s in r["sentences"]]
        drawn = draw_with_replacement(train_pool, n_debias, seed)
        drawn_by_field[field] = {"train_pool": train_pool, "drawn": drawn}
        rows = []
        for r in refs:
            if r["split"] != split:
                continue
            img_meta = next(i for i in images if i["id"] == r["image_id"])
            image = Image.open(d / "images" / img_meta["file_name"]).convert("RGB")
            proposals = []
            for a in sorted(per_image[r["image_id"]]):
                x, y, w, h = by_ann[a]
                proposals.append([x, y, x + w, y + h])
            given = [s[field] for s in r["sentences"]]
            for name, v in variants.items():
                if field == "raw" and name != "seed":
                    continue
                prompts = [v["template"].replace("{expr}", g) for g in given]
                deb = [v["template"].replace("{expr}", e) for e in drawn] if v["debias"] else []
                T = text_emb(prompts + deb)
                if v["method"] == "baseline":
                    per_recipe = [[image.crop(tuple(b)) for b in proposals]]
                else:
                    per_recipe = [[seed_cue(image, b, "ellipse" in spec, "gray" in spec, ellipse_width(spec),
                                            "blur" in spec) for b in proposals] for spec in v["cues"]]
                recipe_scores = []
                for imgs in per_recipe:
                    sim = T @ image_emb(imgs).T  # rows: prompts + debias, columns: visual prompts
                    if deb:
                        sim = sim - sim.mean(dim=0)
                    recipe_scores.append(sim[: len(prompts)])
                recipe_scores = torch.stack(recipe_scores)  # [recipe, K, P]
                final = recipe_scores.mean(0) if v["aggregate"] == "mean" else recipe_scores.max(0).values
                for k in range(len(prompts)):
                    rows.append({"sample": f"refcoco-{r['ref_id']}/{k}", "variant": name,
                                 "expression": given[k], "proposals": proposals,
                                 "recipe_scores": recipe_scores[:, k].tolist(),
                                 "scores": final[k].tolist(), "chosen": int(final[k].argmax())})
        results[field] = rows
    (OUT / "grounding_refcoco.json").write_text(json.dumps({
        "generator": "tools/reference/tasks/make_fixtures.py (refcoco_grounding_fixture)",
        "model": "crates/cuelab-models/tests/data/clip-vit-tiny", "preprocess": "openai",
        "data": "crates/cuelab-tasks/tests/data/refcoco", "split": split,
        "debias": {"pool": "train", "n": n_debias, "seed": seed, "with_replacement": True,
                   "rng": "splitmix64, index = next() % len(pool)", **{f: drawn_by_field[f] for f in drawn_by_field}},
        "variants": variants, "results": results,
    }, indent=1))
    print("wrote", OUT / "grounding_refcoco.json")


def ellipse_width(spec):
    import re

    m = re.search(r"ellipse\([^)]*width=(\d+)", spec)
    return int(m.group(1)) if m else 3


if __name__ == "__main__":
    grounding_fixture()
    refcoco_grounding_fixture()
