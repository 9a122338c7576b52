#!/usr/bin/env bash
# Regenerate crates/cuelab-report/tests/data: real run directories for the report's browser
# test, written by the real pipelines with the bundled random-weight tiny CLIP (no download).
#   demo/      `cuelab demo --scenes 6` (grounding/, questions/, scenes/ samples + images)
#   captions/  `cuelab caption-eval --out` on the scenes' COCO-style captions, candidates made
#              below (half right, half another image's caption), CLIPScore with the tiny CLIP.
#   probes/    tools/report/make-probe-fixtures.sh (probe count, preprocess, boxtool runs).
# Usage: bash tools/report/make-fixtures.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=crates/cuelab-report/tests/data
TINY=crates/cuelab-models/tests/data/clip-vit-tiny
# The cuelab to run (default: built from this checkout).
CUELAB=${CUELAB:-cargo run -q -p cuelab --}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$CUELAB demo --scenes 6 --model "$TINY" -o "$tmp/demo"
rm -rf "$OUT/demo" "$OUT/captions"
mkdir -p "$OUT/demo/scenes"
cp -r "$tmp/demo/grounding" "$tmp/demo/questions" "$OUT/demo/"
rm -f "$OUT"/demo/*/embeddings.sqlite "$OUT"/demo/*/run.lock  # caches and locks are not run data
cp "$tmp/demo/scenes/samples.jsonl" "$OUT/demo/scenes/"
cp -r "$tmp/demo/scenes/images" "$OUT/demo/scenes/"

# Captions: candidates from the references (even images: their own first caption; odd: the
# next image's), scored with CLIPScore on the scene images.
mkdir -p "$tmp/capimg"
python3 - "$tmp/demo/scenes/coco/captions.json" "$tmp/cands.json" "$tmp/demo/scenes" "$tmp/capimg" <<'PY'
import json, os, shutil, sys
refs = json.load(open(sys.argv[1]))
for im in refs["images"]:
    src = os.path.join(sys.argv[3], im.get("filepath", "images"), im["file_name"])
    if not os.path.exists(src):
        src = os.path.join(sys.argv[3], "images", im["file_name"])
    shutil.copy(src, os.path.join(sys.argv[4], "%s.png" % im["id"]))
by_id = {}
for a in refs["annotations"]:
    by_id.setdefault(a["image_id"], []).append(a["caption"])
ids = sorted(by_id)
out = []
for k, i in enumerate(ids):
    src = i if k % 2 == 0 else ids[(k + 1) % len(ids)]
    out.append({"image_id": i, "caption": by_id[src][0]})
json.dump(out, open(sys.argv[2], "w"))
PY
$CUELAB caption-eval --refs "$tmp/demo/scenes/coco/captions.json" \
    --cands "$tmp/cands.json" --images "$tmp/capimg" --model "$TINY" --preprocess hf \
    --out "$OUT/captions"
# clipscore.jsonl names images by temporary paths: point them at committed copies (relative
# paths are resolved against the run directory by the report).
mkdir -p "$OUT/captions/images"
cp "$tmp/capimg/"*.png "$OUT/captions/images/"
sed -i "s#$tmp/capimg/#images/#g" "$OUT/captions/clipscore.jsonl"
du -sh "$OUT"
CUELAB="$CUELAB" bash tools/report/make-probe-fixtures.sh
