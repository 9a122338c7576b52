#!/usr/bin/env python3
"""Random-weight CLIP ViT-B/32 (OpenAI widths, the full 49,408-token vocabulary, quick_gelu) in the
Hugging Face layout, for the encoder benchmark (`tools/reference/bench_all.sh clip`): the speed of
a forward pass does not depend on the weights' values, so random ones give the real model's cost.

    /opt/refenv/bin/python tools/reference/models/make_bench_checkpoint.py OUT_DIR

Not committed (0.6 GB). The tiny fixture's tokenizer files are copied beside it (the benchmark
feeds token ids, not text).
"""

import shutil
import sys
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "crates" / "cuelab-models" / "tests" / "data" / "clip-vit-tiny"


def main():
    out = Path(sys.argv[1])
    cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_attention_heads=8,
                         num_hidden_layers=12, max_position_embeddings=77, bos_token_id=49406,
                         eos_token_id=49407, pad_token_id=49407, hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                           image_size=224, patch_size=32, hidden_act="quick_gelu"),
        projection_dim=512,
    )
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(out)
    for f in ["preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(TINY / f, out / f)


if __name__ == "__main__":
    main()
