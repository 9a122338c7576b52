"""Tiny random-weight Qwen3-VL fixture for cuelab-models (issue 8).

Run with the pinned reference venv (transformers 5.23, torch 2.15, tokenizers, Pillow):

    /opt/refenv/bin/python tools/reference/models/make_qwen3_vl_fixture.py

Writes, into crates/cuelab-models/tests/data/qwen3-vl-tiny/:

* the checkpoint in the exact Hugging Face layout (`save_pretrained`): config.json,
  model.safetensors, tokenizer.json, tokenizer_config.json, chat_template.jinja,
  preprocessor_config.json (whatever the processor writes);
* `images/{dog,eagle}.png`: the real photos from assets/photos, decoded by Pillow and
  downscaled once with Pillow (so Rust and Python read identical pixels; the JPEG decoders differ);
* `expected.safetensors` + `expected.json`: reference outputs for each case (processor pixel
  values and grid, input ids from the chat template, full logits, per-token log-probs of an answer,
  a 10-token greedy continuation, option log-likelihoods, eager attention weights of one layer).

No Qwen tokenizer is available offline (the hub is unreachable), so the tokenizer is a small
byte-level BPE trained here on a fixed text, with the Qwen special tokens added. Their ids are
small (the vocabulary is 512 entries, not 151k); config.json names them as the real config does
(`image_token_id`, `vision_start_token_id`, ...), which is what the Rust code reads.
"""

import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2VLImageProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
)
from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "crates", "cuelab-models", "tests", "data", "qwen3-vl-tiny")

SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Equivalent of the Qwen3-VL Instruct chat template for text / image / video content parts
# (no tools, no default system prompt).
CHAT_TEMPLATE = (
    "{%- set image_count = namespace(value=0) -%}"
    "{%- set video_count = namespace(value=0) -%}"
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for content in message['content'] -%}"
    "{%- if content['type'] == 'image' or 'image' in content -%}"
    "{%- set image_count.value = image_count.value + 1 -%}"
    "{%- if add_vision_id -%}Picture {{ image_count.value }}: {% endif -%}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif content['type'] == 'video' or 'video' in content -%}"
    "{%- set video_count.value = video_count.value + 1 -%}"
    "{%- if add_vision_id -%}Video {{ video_count.value }}: {% endif -%}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif 'text' in content -%}{{- content['text'] -}}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

TRAIN_TEXT = [
    "What animal is this? Which bird is shown? Describe the image in one sentence.",
    "A dog sits next to a bicycle. An eagle spreads its wings. A cat sleeps on a sofa.",
    "The quick brown fox jumps over the lazy dog. Answer with a single word: yes or no.",
    "How many objects are there? Where is the red circle? left right top bottom centre",
] * 20


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=480,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAIN_TEXT, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_start_token": "<|vision_start|>",
            "vision_end_token": "<|vision_end|>",
        },
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def ids_of(tok, t):
    return tok.convert_tokens_to_ids(t)


def main():
    torch.manual_seed(0)
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    tok = build_tokenizer()
    vocab = 512
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=32,
            hidden_act="silu",
            max_position_embeddings=2048,
            rms_norm_eps=1e-6,
            rope_parameters=dict(
                rope_type="default", rope_theta=5000000.0, mrope_section=[6, 5, 5], mrope_interleaved=True
            ),
            tie_word_embeddings=False,
        ),
        vision_config=dict(
            depth=4,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            in_channels=3,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=64,
            num_position_embeddings=64,
            deepstack_visual_indexes=[1, 2, 3],
            hidden_act="gelu_pytorch_tanh",
        ),
        image_token_id=ids_of(tok, "<|image_pad|>"),
        video_token_id=ids_of(tok, "<|video_pad|>"),
        vision_start_token_id=ids_of(tok, "<|vision_start|>"),
        vision_end_token_id=ids_of(tok, "<|vision_end|>"),
        tie_word_embeddings=False,
    )
    config.text_config.bos_token_id = ids_of(tok, "<|endoftext|>")
    config.text_config.eos_token_id = ids_of(tok, "<|im_end|>")
    model = Qwen3VLForConditionalGeneration(config)
    # Random init is small (std 0.02); widen it so logits are not all near-equal and attention is
    # not uniform, which would make the parity checks weak.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (0.8 / max(p.shape[-1], 1) ** 0.5))
    model.eval()
    model.generation_config.eos_token_id = ids_of(tok, "<|im_end|>")
    model.generation_config.pad_token_id = ids_of(tok, "<|endoftext|>")
    model.generation_config.do_sample = False
    model.save_pretrained(OUT)

    image_processor = Qwen2VLImageProcessor(
        patch_size=16,
        temporal_patch_size=2,
        merge_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        size={"shortest_edge": 64 * 64, "longest_edge": 192 * 160},
    )
    video_processor = Qwen3VLVideoProcessor(patch_size=16, temporal_patch_size=2, merge_size=2)
    processor = Qwen3VLProcessor(
        image_processor=image_processor, tokenizer=tok, video_processor=video_processor, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(OUT)
    tok.save_pretrained(OUT)

    photos = {}
    for name, size in [("dog", (256, 192)), ("eagle", (259, 172))]:
        im = Image.open(os.path.join(ROOT, "assets", "photos", f"{name}.jpg")).convert("RGB")
        im = im.resize(size, Image.BICUBIC)
        path = os.path.join(OUT, "images", f"{name}.png")
        im.save(path)
        photos[name] = Image.open(path).convert("RGB")

    cases = [
        ("dog", "What animal is this?", "A dog.", ["a dog", "a cat", "an eagle"]),
        ("eagle", "Which bird is shown?", "An eagle.", ["a dog", "a cat", "an eagle"]),
    ]
    tensors = {}
    meta = {
        "image_token_id": config.image_token_id,
        "im_end_id": ids_of(tok, "<|im_end|>"),
        "attention_layer": 1,
        "cases": [],
    }
    for ci, (photo, prompt, answer, choices) in enumerate(cases):
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=[text], images=[photos[photo]], return_tensors="pt")
        ids = inputs["input_ids"]
        with torch.no_grad():
            out = model(**inputs)
            logits = out.logits[0]
            gen = model.generate(**inputs, max_new_tokens=10, do_sample=False)[0, ids.shape[1] :]
            # eager attention for the attention capture check
            model.set_attn_implementation("eager")
            att = model(**inputs, output_attentions=True).attentions[meta["attention_layer"]][0]
            model.set_attn_implementation("sdpa")
            # teacher-forced answer log-probs
            ans_ids = tok(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
            full = dict(inputs)
            full["input_ids"] = torch.cat([ids, torch.tensor([ans_ids])], dim=1)
            full["attention_mask"] = torch.ones_like(full["input_ids"])
            full["mm_token_type_ids"] = torch.cat(
                [inputs["mm_token_type_ids"], torch.zeros((1, len(ans_ids)), dtype=inputs["mm_token_type_ids"].dtype)],
                dim=1,
            )
            lp = torch.log_softmax(model(**full).logits[0].double(), -1)
            n = ids.shape[1]
            ans_lp = [lp[n - 1 + i, t].item() for i, t in enumerate(ans_ids)]
            # option scores: sum of log-probs of each choice's tokens after the generation prompt
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
                l2 = torch.log_softmax(model(**f).logits[0].double(), -1)
                scores.append(sum(l2[n - 1 + i, t].item() for i, t in enumerate(c_ids)))
        key = f"case{ci}"
        if ci == 0:  # one is enough for the preprocessing check (keeps the fixture small)
            tensors[f"{key}.pixel_values"] = inputs["pixel_values"].float().contiguous()
        tensors[f"{key}.logits"] = logits.float().contiguous()
        tensors[f"{key}.attention"] = att.float().contiguous()
        meta["cases"].append(
            {
                "image": f"images/{photo}.png",
                "prompt": prompt,
                "text": text,
                "grid_thw": inputs["image_grid_thw"][0].tolist(),
                "input_ids": ids[0].tolist(),
                "greedy": gen.tolist(),
                "answer": answer + "<|im_end|>",
                "answer_ids": ans_ids,
                "answer_logprobs": ans_lp,
                "choices": choices,
                "choice_logprob_sums": scores,
            }
        )
        print(key, "grid", inputs["image_grid_thw"][0].tolist(), "seq", ids.shape[1], "greedy", gen.tolist(), file=sys.stderr)
    save_file(tensors, os.path.join(OUT, "expected.safetensors"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
