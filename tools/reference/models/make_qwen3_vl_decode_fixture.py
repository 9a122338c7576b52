"""Decoding parity fixture for cuelab's in-process Qwen3-VL (issue 17): transformers `generate`
on the committed tiny random-weight checkpoint (made by make_qwen3_vl_fixture.py).

    /opt/refenv/bin/python tools/reference/models/make_qwen3_vl_decode_fixture.py

Writes crates/cuelab-models/tests/data/qwen3-vl-tiny/decode.json with, for the dog photo and a
captioning prompt:

* greedy and beam-search token sequences under several settings (num_beams, length_penalty,
  early_stopping True / False / "never", no_repeat_ngram_size, repetition_penalty, an extra
  stop id so that beams finish at different lengths) — cuelab must produce identical tokens;
* sampled runs with `output_scores=True`: the sampled tokens and, at every step, the processed
  next-token distribution softmax(scores) after repetition penalty, temperature, top-k and top-p
  in transformers' order — cuelab must match it within 1e-5 along the same tokens.
"""

import json
import os

import torch
from PIL import Image
from transformers import Qwen3VLForConditionalGeneration, Qwen3VLProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DIR = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny")
PROMPT = "Describe the image in one sentence."


def main():
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration.from_pretrained(DIR, dtype=torch.float32).eval()
    processor = Qwen3VLProcessor.from_pretrained(DIR)
    image = Image.open(os.path.join(DIR, "images", "dog.png")).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], images=[image], return_tensors="pt")
    n = inputs["input_ids"].shape[1]
    im_end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")

    def run(**kw):
        with torch.no_grad():
            out = model.generate(**inputs, **kw)
        return out

    greedy = run(max_new_tokens=12, do_sample=False)[0, n:].tolist()
    # an extra stop id the model produces often, so beams end at different lengths
    counts = {}
    for t in greedy:
        counts[t] = counts.get(t, 0) + 1
    extra_stop = greedy[2]

    cases = []
    settings = [
        dict(max_new_tokens=12),
        dict(max_new_tokens=12, repetition_penalty=1.3, no_repeat_ngram_size=2),
        dict(max_new_tokens=8, num_beams=3),
        dict(max_new_tokens=8, num_beams=3, no_repeat_ngram_size=2),
        dict(max_new_tokens=8, num_beams=4, length_penalty=2.0, stop=[extra_stop]),
        dict(max_new_tokens=8, num_beams=4, length_penalty=-0.5, stop=[extra_stop]),
        dict(max_new_tokens=8, num_beams=3, early_stopping=True, stop=[extra_stop]),
        dict(max_new_tokens=8, num_beams=3, early_stopping="never", length_penalty=1.5, stop=[extra_stop]),
        dict(max_new_tokens=10, num_beams=2, repetition_penalty=1.5, stop=[extra_stop]),
    ]
    for s in settings:
        kw = dict(s)
        stop = kw.pop("stop", [])
        if stop:
            kw["eos_token_id"] = [im_end] + stop
        tokens = run(do_sample=False, **kw)[0, n:].tolist()
        # generate pads finished sequences; cut after the first stop id
        stops = [im_end] + stop
        for i, t in enumerate(tokens):
            if t in stops:
                tokens = tokens[: i + 1]
                break
        case = dict(s)
        case["tokens"] = tokens
        cases.append(case)
        print(s, tokens)

    samples = []
    for s in [
        dict(temperature=0.7, top_p=0.9, max_new_tokens=6),
        dict(temperature=1.3, top_k=20, top_p=0.8, repetition_penalty=1.2, max_new_tokens=6),
        dict(top_k=5, max_new_tokens=4),
    ]:
        kw = dict(s)
        kw.setdefault("top_k", 0)  # transformers' default top_k=50 would apply otherwise
        torch.manual_seed(1)
        out = run(do_sample=True, output_scores=True, return_dict_in_generate=True, **kw)
        tokens = out.sequences[0, n:].tolist()
        probs = [torch.softmax(sc[0].double(), -1).tolist() for sc in out.scores]
        case = dict(s)
        case["top_k"] = kw["top_k"]
        case["tokens"] = tokens
        case["probs"] = [[round(p, 9) for p in row] for row in probs]
        case["kept"] = [int(torch.isfinite(sc[0]).sum()) for sc in out.scores]
        samples.append(case)
        print(s, tokens)

    with open(os.path.join(DIR, "decode.json"), "w") as f:
        json.dump(
            {
                "prompt": PROMPT,
                "image": "images/dog.png",
                "input_ids": inputs["input_ids"][0].tolist(),
                "greedy_beam": cases,
                "sampling": samples,
            },
            f,
        )


if __name__ == "__main__":
    main()
