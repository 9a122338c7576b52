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
from transformers import CLIPModel

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools" / "reference" / "tasks"))
from bench_grounding import vit_b32_config  # noqa: E402  (the grounding benchmark's shapes)

TINY = ROOT / "crates" / "cuelab-models" / "tests" / "data" / "clip-vit-tiny"


def main():
    out = Path(sys.argv[1])
    cfg = vit_b32_config(49408, 49406, 49407, 49407)
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(out)
    for f in ["preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(TINY / f, out / f)


if __name__ == "__main__":
    main()
