#!/usr/bin/env bash
# Every side-by-side benchmark of the README's performance table, one after the other, from the
# release build (what `cargo install` gives users), each side by side with its reference in one
# run. Prints the CPU, its vector extensions and the load average before every row; run it on an
# idle machine. Random-weight full-size checkpoints (ViT-B/32, RN50, Qwen3-VL) are written once
# into BENCH_DIR (default /tmp/cuelab-bench; ~2 GB) by the reference scripts.
#
#   cargo build --release --workspace --bins --examples --features cuelab-vlm/mock
#   bash tools/reference/bench_all.sh [ROWS...]     # rows: cues jpeg clip rn50 ground captions
#                                                   #       client detect qwen mine   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/opt/refenv/bin/python}
BENCH_DIR=${BENCH_DIR:-/tmp/cuelab-bench}
THREADS=${THREADS:-2}
REL=${CUELAB_BENCH_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
export CUELAB_BENCH_BIN_DIR=$REL RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
mkdir -p "$BENCH_DIR"
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(cues jpeg clip rn50 ground captions client detect qwen mine)

for b in cuelab examples/clip_speed examples/bench_detect examples/qwen3_vl_bench \
    examples/mine_bench examples/bench_remote examples/bench_cues examples/jpeg_speed; do
    [ -x "$REL/$b" ] || { echo "missing $REL/$b: run $(sed -n 's/^BUILD = "\(.*\)"/\1/p' tools/reference/bench_bin.py)" >&2; exit 1; }
done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores;" \
    "$(grep -m1 -o -w -E 'avx512f|avx2' /proc/cpuinfo | tail -1) $(grep -m1 -o -w 'amx_tile' /proc/cpuinfo || true);" \
    "threads $THREADS; binaries $REL; git $(git rev-parse --short HEAD)"
row() { echo; echo "=== $1 (load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S))"; }

for r in "${rows[@]}"; do
    case $r in
    cues) row "cue recipes vs Pillow"; "$PY" tools/reference/cue/bench.py --repeats 5 ;;
    jpeg) row "JPEG decode vs Pillow"; "$PY" tools/reference/cue/bench_jpeg.py --repeats 20 ;;
    clip | rn50)
        if [ "$r" = clip ]; then
            ckpt=$BENCH_DIR/clip-vit-b32
            [ -f "$ckpt/model.safetensors" ] || "$PY" tools/reference/models/make_bench_checkpoint.py "$ckpt"
            row "CLIP ViT-B/32 encoders vs transformers"
        else
            ckpt=$BENCH_DIR/clip-rn50
            [ -f "$ckpt/model.safetensors" ] || "$PY" tools/reference/models/make_resnet_clip_fixture.py --full-size "$ckpt" RN50
            row "CLIP RN50 encoders vs open_clip"
        fi
        "$PY" tools/reference/models/bench.py "$ckpt" --threads "$THREADS"
        "$REL/examples/clip_speed" "$ckpt" ;;
    ground) row "grounding end to end vs the seed-style pipeline"; "$PY" tools/reference/tasks/bench_grounding.py --scenes 10 ;;
    captions) row "caption metrics vs pycocoevalcap"; "$PY" tools/reference/captions/bench.py ;;
    client) row "served-model client vs the Python client"; "$REL/examples/bench_remote" 1000 --python "$PY" ;;
    detect) row "CenterNet vs onnxruntime"; "$PY" tools/reference/detect/bench.py --runs 10 --threads "$THREADS" ;;
    qwen) row "Qwen3-VL prefill/decode vs transformers"; "$PY" tools/reference/models/bench_qwen3_vl.py --out "$BENCH_DIR/qwen3vl-small" --shape small ;;
    mine)
        row "pair mining vs FAISS"
        BIN=$REL/examples/mine_bench DIR=$BENCH_DIR/mine EXTRA=--approx PY=$PY \
            bash tools/reference/mine/bench.sh 100000 768 "$THREADS" ;;
    *) echo "unknown row $r" >&2; exit 2 ;;
    esac
done
