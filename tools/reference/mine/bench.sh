#!/usr/bin/env bash
# `cuelab mine` pair search side by side with FAISS, one run, same data, same threads:
# the release `mine_bench` example writes the embeddings (random normalised + planted pairs) and
# times cuelab's exact search, then `bench_faiss.py` times FAISS IndexFlatIP range search on the
# same clip.npy. Both run under /usr/bin/time -v (peak RSS); the load average is printed before,
# between and after (the machine may be shared).
#
#   cargo build --release -p cuelab-tasks --example mine_bench
#   bash tools/reference/mine/bench.sh [N] [DIM] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
N=${1:-100000}
DIM=${2:-768}
THREADS=${3:-2}
PY=${PY:-/opt/refenv/bin/python}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/examples/mine_bench}
DIR=${DIR:-$(mktemp -d /tmp/minebench.XXXXXX)}
mkdir -p "$DIR"
peak() { grep -E "Maximum resident|Elapsed \(wall" "$1" | sed 's/^\s*/    /'; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
RAYON_NUM_THREADS=$THREADS /usr/bin/time -v -o "$DIR/time-cuelab.txt" \
  "$BIN" --n "$N" --dim "$DIM" --write-npy "$DIR" ${EXTRA:-}
peak "$DIR/time-cuelab.txt"
echo "load between: $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS=$THREADS /usr/bin/time -v -o "$DIR/time-faiss.txt" \
  "$PY" tools/reference/mine/bench_faiss.py "$DIR" --threads "$THREADS"
peak "$DIR/time-faiss.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
