"""Side-by-side CPU benchmark: transformers vs cuelab on the same random-weight Qwen3-VL.

    /opt/refenv/bin/python tools/reference/models/bench_qwen3_vl.py --out /tmp/qwen3vl-bench [--shape small|2b]

Builds a random checkpoint of the chosen shape (saved with save_pretrained, reusing the tiny
fixture's tokenizer, template and processor config), times transformers (torch threads = 2)
and the release example `qwen3_vl_bench` (tools/reference/bench_bin.py) on the same image and prompt, and prints prefill
tokens/s, decode tokens/s, the ratios and peak RSS of each process.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import torch
from PIL import Image
from transformers import AutoProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bench_bin  # noqa: E402  (tools/reference/bench_bin.py: the release binaries)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TINY = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny")

SHAPES = {
    # Qwen3-VL-2B-Instruct sizes (vocabulary cut to the fixture tokenizer's 512 ids: the
    # embedding/head over 151936 ids is a memory cost, not a compute one at batch 1 except the head)
    "2b": dict(
        text=dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                  num_key_value_heads=8, head_dim=128, mrope=[24, 20, 20]),
        vision=dict(depth=24, hidden_size=1024, intermediate_size=4096, num_heads=16,
                    num_position_embeddings=2304, deepstack_visual_indexes=[5, 11, 17]),
    ),
    # a quarter of the 2B depth: same widths, 7 decoder layers, 6 vision blocks
    "small": dict(
        text=dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=7, num_attention_heads=16,
                  num_key_value_heads=8, head_dim=128, mrope=[24, 20, 20]),
        vision=dict(depth=6, hidden_size=1024, intermediate_size=4096, num_heads=16,
                    num_position_embeddings=2304, deepstack_visual_indexes=[1, 3, 5]),
    ),
}


def build(out, shape):
    s = SHAPES[shape]
    t, v = s["text"], s["vision"]
    cfg_tiny = json.load(open(os.path.join(TINY, "config.json")))
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=512, hidden_size=t["hidden_size"], intermediate_size=t["intermediate_size"],
            num_hidden_layers=t["num_hidden_layers"], num_attention_heads=t["num_attention_heads"],
            num_key_value_heads=t["num_key_value_heads"], head_dim=t["head_dim"], max_position_embeddings=32768,
            rope_parameters=dict(rope_type="default", rope_theta=5000000.0, mrope_section=t["mrope"],
                                 mrope_interleaved=True),
            tie_word_embeddings=True,
        ),
        vision_config=dict(
            depth=v["depth"], hidden_size=v["hidden_size"], intermediate_size=v["intermediate_size"],
            num_heads=v["num_heads"], patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
            out_hidden_size=t["hidden_size"], num_position_embeddings=v["num_position_embeddings"],
            deepstack_visual_indexes=v["deepstack_visual_indexes"],
        ),
        image_token_id=cfg_tiny["image_token_id"], video_token_id=cfg_tiny["video_token_id"],
        vision_start_token_id=cfg_tiny["vision_start_token_id"],
        vision_end_token_id=cfg_tiny["vision_end_token_id"], tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration(config).eval()
    model.save_pretrained(out)
    for f in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "processor_config.json"]:
        shutil.copy(os.path.join(TINY, f), os.path.join(out, f))
    # the benchmark image size: 448x448 -> 28x28 patches -> 196 image tokens
    pc = json.load(open(os.path.join(out, "processor_config.json")))
    pc["image_processor"]["size"] = {"shortest_edge": 448 * 448, "longest_edge": 448 * 448}
    json.dump(pc, open(os.path.join(out, "processor_config.json"), "w"), indent=1)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shape", default="small", choices=sorted(SHAPES))
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    model = build(a.out, a.shape)
    n_params = sum(p.numel() for p in model.parameters())
    img_path = os.path.join(a.out, "image.png")
    Image.open(os.path.join(ROOT, "assets", "photos", "dog.jpg")).convert("RGB").resize((448, 448)).save(img_path)
    processor = AutoProcessor.from_pretrained(a.out)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe the image in one sentence."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[Image.open(img_path).convert("RGB")], return_tensors="pt")
    n = inputs["input_ids"].shape[1]
    pre, dec = [], []
    with torch.no_grad():
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            model(**inputs)
            pre.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            g = model.generate(**inputs, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=False)
            total = time.perf_counter() - t0
            steps = g.shape[1] - n - 1
            dec.append((total - pre[-1]) / max(steps, 1))
    torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del model
    env = dict(os.environ)
    cmd = [str(bench_bin.binary("qwen3_vl_bench", example=True)), a.out, img_path, str(a.new_tokens),
           str(a.repeats)]
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)
        sys.exit(1)
    rust = json.loads(r.stdout.strip().splitlines()[-1])
    rust_rss = next((int(l.split()[-1]) / 1024 for l in r.stderr.splitlines() if "Maximum resident" in l), float("nan"))
    res = {
        "shape": a.shape, "cuelab_build": bench_bin.profile(), "params": n_params, "prompt_tokens": n,
        "torch": {"prefill_tok_s": n / min(pre), "decode_tok_s": 1 / min(dec), "peak_rss_mib": torch_rss},
        "cuelab": {"prefill_tok_s": rust["prompt_tokens"] / rust["prefill_s"],
                   "decode_tok_s": 1 / rust["decode_s_per_token"], "peak_rss_mib": rust_rss, "load_s": rust["load_s"]},
    }
    res["ratio_prefill"] = res["cuelab"]["prefill_tok_s"] / res["torch"]["prefill_tok_s"]
    res["ratio_decode"] = res["cuelab"]["decode_tok_s"] / res["torch"]["decode_tok_s"]
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
