"""FAISS side of the `cuelab mine` pair-search benchmark: IndexFlatIP range search of every row
against all rows, on the clip.npy written by
`cargo run --release -p cuelab-tasks --example mine_bench -- --write-npy DIR`.

FAISS keeps inner products strictly above the radius; the radius is the float32 just below
clip_min so that the kept set is `cos >= clip_min`, as in cuelab. FAISS computes the full n x n
product (2 n^2 d FLOPs); cuelab computes the upper triangle only (~n^2 d).

    /opt/refenv/bin/python tools/reference/mine/bench_faiss.py DIR --threads 2
"""

import argparse
import os
import resource
import time

import faiss
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--clip-min", type=float, default=0.95)
a = ap.parse_args()

faiss.omp_set_num_threads(a.threads)
x = np.load(os.path.join(a.dir, "clip.npy"))
n, d = x.shape
radius = float(np.nextafter(np.float32(a.clip_min), np.float32(-1)))
t = time.perf_counter()
index = faiss.IndexFlatIP(d)
index.add(x)
lims, dist, ids = index.range_search(x, radius)
secs = time.perf_counter() - t
rows = np.repeat(np.arange(n), np.diff(lims.astype(np.int64)))  # lims is uint64
pairs = int(np.sum(ids > rows))
flops = 2.0 * n * n * d
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(
    f"faiss {faiss.__version__} IndexFlatIP range_search: n {n}, d {d}, threads {a.threads}: "
    f"{secs:.2f} s, {pairs} pairs i<j with cos >= {a.clip_min}, "
    f"{flops / secs / 1e9:.1f} GFLOP/s on the full product, peak RSS {peak:.0f} MiB"
)
