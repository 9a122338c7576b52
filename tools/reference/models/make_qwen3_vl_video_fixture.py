"""Qwen3-VL video input parity fixture (issue 19), on the tiny random checkpoint of
make_qwen3_vl_fixture.py (run that first; this script only reads the checkpoint).

Run with the pinned reference venv (transformers 5.23, torch 2.15, Pillow 11.0):

    /opt/refenv/bin/python tools/reference/models/make_qwen3_vl_video_fixture.py

Writes, into crates/cuelab-models/tests/data/qwen3-vl-tiny/video/:

* `clip_a/`, `clip_b/`, `clip_c/`: small synthetic clips (a coloured square moving over a
  gradient with a little noise), one JPEG per frame (quality 90, 4:2:0, as a decoded clip is
  stored); Pillow's decode is what the processor gets (cuelab decodes JPEG as Pillow does);
* `expected.json` + `expected.safetensors`: for each case, the processor's output
  (`Qwen3VLProcessor` with the checkpoint's `Qwen3VLVideoProcessor`: frame sampling from the
  clip's fps by the processor's fps or `num_frames`, min/max frames, `smart_resize` over
  frames x height x width with the pixel budget, the last frame repeated to fill the temporal
  patch of 2, the patch layout), the sampled frame indices, the prompt text with the per-frame
  `<t seconds>` timestamps, `input_ids`, `video_grid_thw`, the multimodal rotary positions
  (`model.model.get_rope_index`), logits of a forward pass (every 4th row and the last one),
  a 5-token greedy continuation and option log-likelihood sums; and `mixed`: the dog photo
  and clip_b in one prompt (ids, positions, logits); `num_patches`: the processor's patch count
  for 98 (frames, height, width, per-frame cap) combinations.

Pixel values are large at the checkpoint's own budget (`shortest_edge` 131072 pixels over the
clip), so full pixel values are stored for the small case only (case 2, whose budget is
overridden); the other cases store each patch row's sum (float64) and every 31st value.
"""

import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CKPT = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny")
OUT = os.path.join(CKPT, "video")
STRIDE = 31

# (clip folder, frames, width, height, the clip's fps, processor overrides, prompt, choices)
CASES = [
    # case 0's prompt is what cuelab's in-process answerer writes for a choice question
    # ("{question}\nOptions: {choices}"), so its option scores check `ask --local` too
    (
        "clip_a",
        5,
        80,
        60,
        2.0,
        {},
        "What moves in the video?\nOptions: a dog, a red square, an eagle",
        ["a dog", "a red square", "an eagle"],
    ),
    ("clip_b", 8, 64, 48, 4.0, {}, "Where does the square go?", ["left", "right", "top", "bottom"]),
    (
        "clip_c",
        6,
        160,
        120,
        12.0,
        {"num_frames": 4, "fps": None, "size": {"shortest_edge": 4096, "longest_edge": 40000}},
        "How many objects are there?",
        ["one", "two"],
    ),
]


def draw_clip(folder, n, w, h, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    yy, xx = np.mgrid[0:h, 0:w]
    side = max(8, h // 4)
    for i in range(n):
        base = np.stack(
            [40 + 150 * xx / w, 60 + 120 * yy / h, 200 - 100 * (xx + yy) / (w + h)], axis=-1
        )
        base = base + rng.normal(0, 6, size=base.shape)
        x0 = int((w - side) * i / max(n - 1, 1))
        y0 = int((h - side) * (0.5 + 0.3 * np.sin(i)))
        base[y0 : y0 + side, x0 : x0 + side] = [220, 30, 30]
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
        img.save(os.path.join(folder, f"{i:04d}.jpg"), quality=90)


def load_clip(folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))
    return np.stack([np.asarray(Image.open(os.path.join(folder, n)).convert("RGB")) for n in names])


def main():
    torch.manual_seed(0)
    processor = AutoProcessor.from_pretrained(CKPT)
    model = Qwen3VLForConditionalGeneration.from_pretrained(CKPT, dtype=torch.float32)
    model.eval()
    tok = processor.tokenizer
    tensors = {}
    meta = {"video_token_id": model.config.video_token_id, "logit_rows_every": 4, "cases": []}
    for ci, (clip, n, w, h, fps, overrides, prompt, choices) in enumerate(CASES):
        folder = os.path.join(OUT, clip)
        draw_clip(folder, n, w, h, seed=ci)
        frames = load_clip(folder)
        messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        metadata = {"total_num_frames": len(frames), "fps": fps}
        inputs = processor(
            text=[text],
            videos=[frames],
            video_metadata=[metadata],
            return_tensors="pt",
            videos_kwargs=dict(cap_pixels_per_frame=False, **overrides),
        )
        # the frame indices the processor sampled (it records them on the metadata)
        vp = processor.video_processor
        kw = dict(cap_pixels_per_frame=False, **overrides)
        vout = vp(videos=[frames], video_metadata=[dict(metadata)], return_metadata=True, **kw)
        indices = [int(i) for i in vout["video_metadata"][0].frames_indices]
        assert torch.equal(vout["pixel_values_videos"], inputs["pixel_values_videos"])
        ids = inputs["input_ids"]
        px = inputs["pixel_values_videos"].float()
        with torch.no_grad():
            pos, delta = model.model.get_rope_index(
                ids, inputs["mm_token_type_ids"], video_grid_thw=inputs["video_grid_thw"]
            )
            logits = model(**inputs).logits[0]
            gen = model.generate(**inputs, max_new_tokens=5, do_sample=False)[0, ids.shape[1] :]
            n_ids = ids.shape[1]
            scores = []
            for choice in choices:
                c_ids = tok(choice, add_special_tokens=False)["input_ids"]
                f = dict(inputs)
                f["input_ids"] = torch.cat([ids, torch.tensor([c_ids])], dim=1)
                f["attention_mask"] = torch.ones_like(f["input_ids"])
                f["mm_token_type_ids"] = torch.cat(
                    [inputs["mm_token_type_ids"], torch.zeros((1, len(c_ids)), dtype=inputs["mm_token_type_ids"].dtype)],
                    dim=1,
                )
                lp = torch.log_softmax(model(**f).logits[0].double(), -1)
                scores.append(sum(lp[n_ids - 1 + i, t].item() for i, t in enumerate(c_ids)))
        rows = list(range(0, n_ids, 4))
        if rows[-1] != n_ids - 1:
            rows.append(n_ids - 1)
        key = f"case{ci}"
        tensors[f"{key}.logits"] = logits[rows].float().contiguous()
        if "size" in overrides:
            tensors[f"{key}.pixel_values"] = px.contiguous()
        tensors[f"{key}.patch_sums"] = px.double().sum(1).contiguous()
        tensors[f"{key}.pixels_strided"] = px.flatten()[::STRIDE].contiguous()
        expanded = tok.decode(ids[0].tolist(), skip_special_tokens=False)
        meta["cases"].append(
            {
                "clip": f"video/{clip}",
                "fps": fps,
                "processor": {k: v for k, v in overrides.items()},
                "prompt": prompt,
                "text": text,
                "expanded": expanded,
                "frame_indices": indices,
                "grid_thw": inputs["video_grid_thw"][0].tolist(),
                "pixel_shape": list(px.shape),
                "input_ids": ids[0].tolist(),
                "positions": pos[:, 0].tolist(),
                "rope_delta": int(delta[0, 0]),
                "logit_rows": rows,
                "greedy": gen.tolist(),
                "choices": choices,
                "choice_logprob_sums": scores,
            }
        )
        print(
            key,
            "frames",
            indices,
            "grid",
            inputs["video_grid_thw"][0].tolist(),
            "seq",
            n_ids,
            "greedy",
            gen.tolist(),
            file=sys.stderr,
        )
        print(expanded.replace("<|video_pad|>", "V")[:400], file=sys.stderr)
    # an image and a video in one prompt (the image's tokens, then the video's temporal patches;
    # deepstack features and rotary positions in token order)
    dog = Image.open(os.path.join(CKPT, "images", "dog.png")).convert("RGB")
    frames = load_clip(os.path.join(OUT, "clip_b"))
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "video"}, {"type": "text", "text": "Is the dog in the video?"}],
        }
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(
        text=[text],
        images=[dog],
        videos=[frames],
        video_metadata=[{"total_num_frames": len(frames), "fps": 4.0}],
        return_tensors="pt",
        videos_kwargs=dict(cap_pixels_per_frame=False),
    )
    ids = inputs["input_ids"]
    with torch.no_grad():
        pos, delta = model.model.get_rope_index(
            ids,
            inputs["mm_token_type_ids"],
            image_grid_thw=inputs["image_grid_thw"],
            video_grid_thw=inputs["video_grid_thw"],
        )
        logits = model(**inputs).logits[0]
    n_ids = ids.shape[1]
    rows = list(range(0, n_ids, 4))
    if rows[-1] != n_ids - 1:
        rows.append(n_ids - 1)
    tensors["mixed.logits"] = logits[rows].float().contiguous()
    meta["mixed"] = {
        "image": "images/dog.png",
        "clip": "video/clip_b",
        "fps": 4.0,
        "text": text,
        "input_ids": ids[0].tolist(),
        "positions": pos[:, 0].tolist(),
        "rope_delta": int(delta[0, 0]),
        "logit_rows": rows,
    }
    print("mixed seq", n_ids, "image grid", inputs["image_grid_thw"][0].tolist(), file=sys.stderr)
    # the clip's resize over a grid of sizes, with and without qwen-vl-utils' per-frame cap
    # (`get_num_of_video_patches`: the patch count after `smart_resize`, before sampling)
    vp = processor.video_processor
    table = []
    for frames_n in [2, 3, 4, 7, 16, 64, 300]:
        for h, w in [(20, 30), (48, 64), (120, 160), (240, 427), (720, 1280), (1080, 1920), (31, 2000)]:
            for cap in [False, True]:
                n = vp.get_num_of_video_patches(frames_n, h, w, videos_kwargs={"cap_pixels_per_frame": cap})
                table.append({"frames": frames_n, "height": h, "width": w, "cap": cap, "patches": int(n)})
    meta["num_patches"] = table
    save_file(tensors, os.path.join(OUT, "expected.safetensors"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
