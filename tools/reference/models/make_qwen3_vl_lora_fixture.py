"""PEFT LoRA adapter for the tiny Qwen3-VL fixture, and the merged model's logits.

Run after make_qwen3_vl_fixture.py, with the reference venv plus `peft` (0.21):

    /opt/refenv/bin/python tools/reference/models/make_qwen3_vl_lora_fixture.py

Writes crates/cuelab-models/tests/data/qwen3-vl-tiny-lora/: adapter_config.json and
adapter_model.safetensors (`save_pretrained` of a PeftModel: r=4, lora_alpha=8 on the decoder's
q/k/v/o and MLP projections, B matrices randomised since PEFT initialises them to zero), and
expected.safetensors with the logits of case 0 (dog photo) after `merge_and_unload()`.
"""

import json
import os

import torch
from peft import LoraConfig, get_peft_model
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BASE = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny")
OUT = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny-lora")


def main():
    torch.manual_seed(1)
    model = Qwen3VLForConditionalGeneration.from_pretrained(BASE, dtype=torch.float32).eval()
    cfg = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        lora_dropout=0.0,
    )
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                p.copy_(torch.randn_like(p) * 0.2)
    peft_model.save_pretrained(OUT)
    # keep the fixture machine-independent: no absolute base path, no generated model card
    cfg_path = os.path.join(OUT, "adapter_config.json")
    adapter_cfg = json.load(open(cfg_path))
    adapter_cfg["base_model_name_or_path"] = "qwen3-vl-tiny"
    with open(cfg_path, "w") as f:
        json.dump(adapter_cfg, f, indent=2, sort_keys=True)
    readme = os.path.join(OUT, "README.md")
    if os.path.exists(readme):
        os.remove(readme)
    merged = peft_model.merge_and_unload().eval()
    processor = AutoProcessor.from_pretrained(BASE)
    meta = json.load(open(os.path.join(BASE, "expected.json")))
    case = meta["cases"][0]
    img = Image.open(os.path.join(BASE, case["image"])).convert("RGB")
    inputs = processor(text=[case["text"]], images=[img], return_tensors="pt")
    with torch.no_grad():
        logits = merged(**inputs).logits[0]
    save_file({"case0.logits": logits.float().contiguous()}, os.path.join(OUT, "expected.safetensors"))
    print("saved", logits.shape)


if __name__ == "__main__":
    main()
