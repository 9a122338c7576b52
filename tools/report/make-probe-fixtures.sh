#!/usr/bin/env bash
# Regenerate crates/cuelab-report/tests/data/probes: real probe run directories for the report's
# probe sections, written by the real pipelines with the bundled random-weight tiny checkpoints
# (no download) on 8 generated crowd scenes (128 px):
#   count/       `cuelab probe count --clip clip-vit-tiny` (the count as a choice among 0..K;
#                four presentations, CLIP cannot list)
#   listing/     `cuelab probe count --local qwen3-vl-tiny --question count --question list`
#                (open answers; listing precision/recall/F1/order, visual tokens not recorded)
#   preprocess/  `cuelab probe preprocess --clip clip-vit-tiny` with four transforms
#   preprocess-local/  `cuelab probe preprocess --local qwen3-vl-tiny` (visual tokens per image)
#   boxtool/     `cuelab probe boxtool --local qwen3-vl-tiny --format qwen3 --max-turns 3`
# The random weights answer at chance: the figures exercise the sections, they say nothing
# about any real model. Caches and locks are not run data and are removed.
# Usage: bash tools/report/make-probe-fixtures.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=crates/cuelab-report/tests/data/probes
CLIP=crates/cuelab-models/tests/data/clip-vit-tiny
QWEN=crates/cuelab-models/tests/data/qwen3-vl-tiny
CUELAB=${CUELAB:-cargo run -q -p cuelab --}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$CUELAB scenes -n 8 --crowd 1 --pairs 0 --clips 0 --size 128 --seed 3 --out "$tmp/scenes" >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT"
S=(--scenes "$tmp/scenes")
$CUELAB probe count "${S[@]}" --clip "$CLIP" --out "$OUT/count"
$CUELAB probe count "${S[@]}" --local "$QWEN" --max-tokens 8 --variant plain --variant som \
    --question count --question list --out "$OUT/listing"
$CUELAB probe preprocess "${S[@]}" --clip "$CLIP" --transform "rotate(90)" \
    --transform "resize(0.5)" --transform "shift(7)" --transform "jpeg(30)" --out "$OUT/preprocess"
$CUELAB probe preprocess "${S[@]}" --local "$QWEN" --max-tokens 4 --transform "resize(0.5)" \
    --transform "pad-square" --limit 4 --out "$OUT/preprocess-local"
$CUELAB probe boxtool "${S[@]}" --local "$QWEN" --max-tokens 12 --format qwen3 --max-turns 3 \
    --out "$OUT/boxtool"
find "$OUT" \( -name '*.sqlite' -o -name 'run.lock' \) -delete
# the scenes lived in a temporary folder: name the generator instead
sed -i "s#$tmp/scenes#scenes -n 8 --crowd 1 --size 128 --seed 3#g" "$OUT"/*/manifest.json
du -sh "$OUT"
