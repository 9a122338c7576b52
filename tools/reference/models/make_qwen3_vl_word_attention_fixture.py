"""Per-word attention fixture for cuelab's in-process Qwen3-VL (issue 17): transformers 5.23
`generate(output_attentions=True)` with eager attention on the committed tiny checkpoint.

    /opt/refenv/bin/python tools/reference/models/make_qwen3_vl_word_attention_fixture.py

Writes crates/cuelab-models/tests/data/qwen3-vl-tiny/word_attention.json: the greedy tokens of
a captioning prompt on the dog photo, the image token span, and for every generated token and
every layer the attention probabilities (heads x context) of the query that produced it (step 0:
the last prompt position of the prefill; step i: the position of token i-1); plus attention
rollout (Abnar & Zuidema 2020: per layer the head mean, 0.5 A + 0.5 I, rows renormalised,
multiplied from the first layer to the last) computed with NumPy from one eager forward pass over
prompt + tokens, its rows for the generated tokens over the image tokens.
"""

import json
import os

import numpy as np
import torch
from PIL import Image
from transformers import Qwen3VLForConditionalGeneration, Qwen3VLProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIR = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny")
PROMPT = "Describe the image in one sentence."
STEPS = 6


def main():
    model = Qwen3VLForConditionalGeneration.from_pretrained(DIR, dtype=torch.float32).eval()
    model.set_attn_implementation("eager")
    processor = Qwen3VLProcessor.from_pretrained(DIR)
    image = Image.open(os.path.join(DIR, "images", "dog.png")).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    ids = inputs["input_ids"][0].tolist()
    n = len(ids)
    image_id = model.config.image_token_id
    start = ids.index(image_id)
    length = sum(1 for t in ids if t == image_id)
    with torch.no_grad():
        out = model.generate(
            **inputs, max_new_tokens=STEPS, do_sample=False, output_attentions=True, return_dict_in_generate=True
        )
    tokens = out.sequences[0, n:].tolist()
    # out.attentions[step][layer]: (1, heads, q, k); the producing query is the last row
    steps = []
    for step, per_layer in enumerate(out.attentions):
        steps.append([[[round(x, 8) for x in row] for row in a[0, :, -1, :].tolist()] for a in per_layer])
    # rollout from one teacher-forced pass
    full = dict(inputs)
    full["input_ids"] = torch.cat([inputs["input_ids"], torch.tensor([tokens[:-1]])], dim=1)
    full["attention_mask"] = torch.ones_like(full["input_ids"])
    full["mm_token_type_ids"] = torch.cat(
        [inputs["mm_token_type_ids"], torch.zeros((1, len(tokens) - 1), dtype=inputs["mm_token_type_ids"].dtype)],
        dim=1,
    )
    with torch.no_grad():
        att = model(**full, output_attentions=True).attentions
    L = full["input_ids"].shape[1]
    r = np.eye(L)
    for a in att:
        m = a[0].double().mean(0).numpy()
        m = 0.5 * m + 0.5 * np.eye(L)
        m = m / m.sum(-1, keepdims=True)
        r = m @ r
    rollout = [r[n - 1 + i, start : start + length].tolist() for i in range(len(tokens))]
    with open(os.path.join(DIR, "word_attention.json"), "w") as f:
        json.dump(
            {
                "prompt": PROMPT,
                "image": "images/dog.png",
                "tokens": tokens,
                "token_strings": processor.tokenizer.convert_ids_to_tokens(tokens),
                "image_start": start,
                "image_len": length,
                "prompt_len": n,
                "attention": steps,
                "rollout": rollout,
            },
            f,
        )
    print(tokens, processor.tokenizer.convert_ids_to_tokens(tokens), start, length, n)


if __name__ == "__main__":
    main()
