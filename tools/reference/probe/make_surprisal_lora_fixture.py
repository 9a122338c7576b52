"""Reference fixtures for `cuelab probe surprisal` and `cuelab lora-plan` (issue 16, part 4).

Run with the reference venv plus `peft` (0.21), after make_qwen3_vl_fixture.py, with a built
cuelab binary (it draws the cued image, so the reference sees exactly the pixels cuelab feeds):

    CUELAB=target/debug/cuelab /opt/refenv/bin/python tools/reference/probe/make_surprisal_lora_fixture.py

Writes crates/cuelab-tasks/tests/data/probe/:

* `eagle.jpg`: the eagle photo of assets/photos, downscaled by Pillow and saved as a JPEG
  (quality 90, 4:2:0), read as a JPEG by both sides (cuelab's decoder is Pillow-exact);
  224x150 is above the tiny model's max_pixels, so the processor's own resize runs too.
* `dog.png`: the dog photo, downscaled; `dog.cued.png`: `cuelab render` of the cue
  `rect(color=red,width=3)` on the sample's target box.
* `train.jsonl`: a small fine-tuning set in cuelab's generic JSONL (question + answer on the
  JPEG, question + answer with a target box, a caption sample with an empty caption, a
  grounding sample that yields no example).
* `surprisal_expected.json`: for every (variant, example), transformers' loss with the labels
  of the answer span (reply + `<|im_end|>`) and of the whole sequence (every token, image
  placeholders set to -100), converted to bits/token (`loss / ln 2`), and the token counts.
* `lora_params.json`: PEFT's trainable-parameter count (`get_nb_trainable_parameters`) for
  LoRA configs on the tiny Qwen3-VL (targets, rank, with/without the vision blocks), the
  targets given to PEFT as a regex over module names that encodes cuelab's documented mapping.
"""

import json
import math
import os
import re
import subprocess
import sys

import torch
from peft import LoraConfig, get_peft_model
from PIL import Image
from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BASE = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny")
OUT = os.path.join(ROOT, "crates", "cuelab-tasks", "tests", "data", "probe")
CUE = "rect(color=red,width=3)"
DOG_BOX = [40, 30, 170, 150]
CAPTION_PROMPT = "Describe the image in one sentence."

TEXT = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
        "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj"}
VISION = {"q": "attn.qkv", "k": "attn.qkv", "v": "attn.qkv", "o": "attn.proj", "gate": None,
          "up": "mlp.linear_fc1", "down": "mlp.linear_fc2"}

LORA_CASES = [
    (["q", "k", "v", "o", "gate", "up", "down"], False, [1, 4, 8, 64]),
    (["q", "v"], False, [8]),
    (["q", "k", "v", "o", "gate", "up", "down"], True, [4, 16]),
    (["q", "k", "o", "down"], True, [2]),
    (["gate"], True, [3]),
]


def write_images():
    os.makedirs(OUT, exist_ok=True)
    eagle = Image.open(os.path.join(ROOT, "assets", "photos", "eagle.jpg")).convert("RGB")
    eagle.resize((224, 150), Image.BICUBIC).save(os.path.join(OUT, "eagle.jpg"), quality=90)
    dog = Image.open(os.path.join(ROOT, "assets", "photos", "dog.jpg")).convert("RGB")
    dog.resize((200, 160), Image.BICUBIC).save(os.path.join(OUT, "dog.png"))
    cuelab = os.environ.get("CUELAB", os.path.join(ROOT, "target", "debug", "cuelab"))
    subprocess.run(
        [cuelab, "render", os.path.join(OUT, "dog.png"), "--box", ",".join(map(str, DOG_BOX)), "--cue", CUE,
         "--output", os.path.join(OUT, "dog.cued.png")],
        check=True,
    )


def samples():
    return [
        {"id": "eagle-qa", "dataset": "probe", "task": "multiple_choice", "image": "eagle.jpg",
         "question": "Which bird is shown?", "answer": "An eagle."},
        {"id": "dog-qa", "dataset": "probe", "task": "multiple_choice", "image": "dog.png",
         "target": DOG_BOX, "question": "What animal is this?", "answer": "A dog sits next to a bicycle."},
        {"id": "dog-caption", "dataset": "probe", "task": "caption", "image": "dog.png",
         "captions": ["A dog.", "  ", "The quick brown fox jumps over the lazy dog."]},
        {"id": "dog-ground", "dataset": "probe", "task": "grounding", "image": "dog.png", "target": DOG_BOX,
         "expressions": [{"raw": "the dog"}]},
    ]


def examples():
    """(unit id, question, answer, image file plain, image file cued or None), as cuelab builds them."""
    return [
        ("dog-caption#c0", CAPTION_PROMPT, "A dog.", "dog.png", None),
        ("dog-caption#c2", CAPTION_PROMPT, "The quick brown fox jumps over the lazy dog.", "dog.png", None),
        ("dog-qa", "What animal is this?", "A dog sits next to a bicycle.", "dog.png", "dog.cued.png"),
        ("eagle-qa", "Which bird is shown?", "An eagle.", "eagle.jpg", None),
    ]


def measure(model, processor, image_file, question, answer):
    tok = processor.tokenizer
    img = Image.open(os.path.join(OUT, image_file)).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[img], return_tensors="pt")
    ids = inputs["input_ids"]
    reply = tok(answer, add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids("<|im_end|>")]
    full = dict(inputs)
    full["input_ids"] = torch.cat([ids, torch.tensor([reply])], dim=1)
    full["attention_mask"] = torch.ones_like(full["input_ids"])
    full["mm_token_type_ids"] = torch.cat(
        [inputs["mm_token_type_ids"], torch.zeros((1, len(reply)), dtype=inputs["mm_token_type_ids"].dtype)], dim=1)
    n0 = ids.shape[1]
    ans_labels = full["input_ids"].clone()
    ans_labels[:, :n0] = -100
    seq_labels = full["input_ids"].clone()
    seq_labels[seq_labels == model.config.image_token_id] = -100
    out = {}
    with torch.no_grad():
        for name, labels in [("answer", ans_labels), ("sequence", seq_labels)]:
            loss = model(**full, labels=labels).loss.item()
            tokens = int((labels[0, 1:] != -100).sum())
            out[f"{name}_tokens"] = tokens
            out[f"{name}_bits_per_token"] = loss / math.log(2)
    out["image_tokens"] = int((full["input_ids"] == model.config.image_token_id).sum())
    return out


def lora_counts():
    rows = []
    for targets, vision, ranks in LORA_CASES:
        text = sorted({TEXT[t] for t in targets})
        parts = [r"model\.language_model\.layers\.\d+\.(" + "|".join(re.escape(m) for m in text) + ")"]
        vis = sorted({VISION[t] for t in targets if VISION[t]})
        if vision and vis:
            parts.append(r"model\.visual\.blocks\.\d+\.(" + "|".join(re.escape(m) for m in vis) + ")")
        regex = "|".join(f"(?:{p})" for p in parts)
        for r in ranks:
            base = Qwen3VLForConditionalGeneration.from_pretrained(BASE, dtype=torch.float32)
            peft_model = get_peft_model(base, LoraConfig(r=r, lora_alpha=2 * r, target_modules=regex, lora_dropout=0.0))
            trainable, total = peft_model.get_nb_trainable_parameters()
            rows.append({"targets": targets, "vision": vision, "rank": r, "trainable": int(trainable),
                         "peft_target_regex": regex})
            print("lora", targets, vision, r, trainable, file=sys.stderr)
    return rows


def main():
    torch.manual_seed(0)
    write_images()
    with open(os.path.join(OUT, "train.jsonl"), "w") as f:
        for s in samples():
            f.write(json.dumps(s) + "\n")
    model = Qwen3VLForConditionalGeneration.from_pretrained(BASE, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(BASE)
    expected = {"cue": CUE, "caption_prompt": CAPTION_PROMPT, "rows": {}}
    for unit, q, a, plain, cued in examples():
        expected["rows"][f"plain/{unit}"] = measure(model, processor, plain, q, a)
        if cued:
            expected["rows"][f"cued/{unit}"] = measure(model, processor, cued, q, a)
    for k, v in expected["rows"].items():
        print(k, v, file=sys.stderr)
    with open(os.path.join(OUT, "surprisal_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    with open(os.path.join(OUT, "lora_params.json"), "w") as f:
        json.dump(lora_counts(), f, indent=1)


if __name__ == "__main__":
    main()
