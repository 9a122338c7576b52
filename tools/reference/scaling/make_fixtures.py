"""Embedding shards as one Parquet dataset: `cuelab embed --shard k/3` writes three parts of a
dataset folder; pyarrow, polars and DuckDB each read the folder as one table, and the rows they
read (sorted by `row`) must agree; those rows are written as the reference the Rust test compares
cuelab's own reader and `cuelab merge` against.

Writes crates/cuelab-tasks/tests/data/embed_parts/ (parts.parquet/ and expected.json).

Usage: /opt/refenv/bin/python tools/reference/scaling/make_fixtures.py [--cuelab BIN]
Needs: pip install pyarrow polars duckdb (versions recorded in expected.json).
"""

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import polars as pl
import pyarrow
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "crates/cuelab-tasks/tests/data/embed_parts"
CLIP = ROOT / "crates/cuelab-models/tests/data/clip-vit-tiny"
# user-like texts: plain, unicode, punctuation, whitespace-only, long
TEXTS = [
    "a dog on the grass",
    "an eagle in flight",
    "ünïcödé ✓ — 日本語のテキスト",
    "   ",
    "!!!",
    "a photo of a red circle around the second person from the left, next to a bicycle",
    "A DOG",
]


def main():
    ap = argparse.ArgumentParser()
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    ap.add_argument("--cuelab", default=f"{target}/debug/cuelab")
    args = ap.parse_args()
    parts = OUT / "parts.parquet"
    shutil.rmtree(parts, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    for k in range(3):
        cmd = [args.cuelab, "embed", "-m", str(CLIP), "--normalize", "--shard", f"{k}/3",
               "-o", str(parts)]
        for t in TEXTS:
            cmd += ["--text", t]
        subprocess.run(cmd, check=True)

    def rows_of(table):
        d = table.to_pydict()
        out = [{"row": r, "input": i, "embedding": [float(x) for x in e]}
               for r, i, e in zip(d["row"], d["input"], d["embedding"])]
        return sorted(out, key=lambda r: r["row"])

    by_pyarrow = rows_of(pq.read_table(parts))
    by_polars = rows_of(pl.read_parquet(str(parts / "*.parquet")).to_arrow())
    res = duckdb.sql(f"SELECT * FROM read_parquet('{parts}/*.parquet')").arrow()
    by_duckdb = rows_of(res.read_all() if hasattr(res, "read_all") else res)
    assert by_pyarrow == by_polars == by_duckdb, "the readers disagree"
    assert [r["row"] for r in by_pyarrow] == list(range(len(TEXTS)))
    assert [r["input"] for r in by_pyarrow] == TEXTS
    meta = pq.read_metadata(next(parts.glob("*.parquet"))).metadata
    expected = {
        "readers": {"pyarrow": pyarrow.__version__, "polars": pl.__version__,
                    "duckdb": duckdb.__version__},
        "files": sorted(p.name for p in parts.glob("*.parquet")),
        "metadata_keys": sorted(k.decode() for k in meta if k.decode().startswith("cuelab.")),
        "rows": by_pyarrow,
    }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(by_pyarrow)} rows in {len(expected['files'])} parts; pyarrow, polars and duckdb agree")


if __name__ == "__main__":
    main()
