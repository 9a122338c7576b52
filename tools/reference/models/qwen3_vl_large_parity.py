"""Once, not in CI: logits and greedy parity at a larger random size (the benchmark checkpoint).

    /opt/refenv/bin/python tools/reference/models/bench_qwen3_vl.py --out /tmp/qwen3vl-bench
    /opt/refenv/bin/python tools/reference/models/qwen3_vl_large_parity.py /tmp/qwen3vl-bench

Runs transformers on the checkpoint's image and prompt (all-position logits, 8 greedy tokens),
then `cargo run --example qwen3_vl_bench -- DIR IMAGE 8 1 OUT.npy` which writes cuelab's logits
and greedy tokens, and prints the max abs logit difference and whether the tokens agree.
"""

import json
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image
from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main():
    d = sys.argv[1]
    torch.set_num_threads(2)
    img_path = os.path.join(d, "image.png")
    model = Qwen3VLForConditionalGeneration.from_pretrained(d, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(d)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe the image in one sentence."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[Image.open(img_path).convert("RGB")], return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0].numpy()
        gen = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)[0, inputs["input_ids"].shape[1]:].tolist()
    del model
    out = os.path.join(d, "cuelab_logits.npy")
    r = subprocess.run(["cargo", "run", "-q", "-p", "cuelab-models", "--example", "qwen3_vl_bench", "--",
                        d, img_path, "8", "1", out], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)
        sys.exit(1)
    rust = json.loads(r.stdout.strip().splitlines()[-1])
    mine = np.load(out)
    print(json.dumps({
        "logits_shape": list(logits.shape),
        "max_abs_diff": float(np.abs(mine - logits).max()),
        "max_abs_logit": float(np.abs(logits).max()),
        "greedy_torch": gen,
        "greedy_cuelab": rust["greedy"],
        "greedy_equal": gen == rust["greedy"],
    }, indent=1))


if __name__ == "__main__":
    main()
