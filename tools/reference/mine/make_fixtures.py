"""NumPy reference of `cuelab mine` (CLIP-blind pair search) on a fixed set of embeddings.

Writes crates/cuelab-tasks/tests/data/mine/:
  clip.npy (float32, 320 x 32), dino.npy (float32, 320 x 24), inputs.txt (one label per row),
  expected.json (thresholds, every recorded pair with both cosines, and the final selection).

Semantics (the same as crates/cuelab-tasks/src/mine):
  rows are L2-normalised in float64 and stored as float32;
  CLIP cosines come from a float32 matrix product X @ X.T; a pair i < j is a candidate when
  clip >= clip_min (inclusive); its DINOv2 cosine is a float64-accumulated dot of the float32
  rows; the candidate is CLIP-blind when dino < dino_max (exclusive) and a near-duplicate when
  dino >= dedup (inclusive). Near-duplicate pairs join rows into groups that keep their smallest
  row; blind pairs touching a non-kept row are dropped; blind pairs are sorted by gap = clip - dino
  (largest first, ties by (i, j)).

The data are clustered (so there are many candidates), with planted near-duplicates, and
regenerated until no value lies within MARGIN of a threshold: float32 products summed in another
order differ by ~1e-7, so a value nearer than that to an edge could legitimately fall either side.
Edges exactly at a threshold are tested separately, with exactly representable cosines
(crates/cuelab-tasks/tests/mine.rs, recovery test).
"""

import json
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "../../../crates/cuelab-tasks/tests/data/mine")
CLIP_MIN, DINO_MAX, DEDUP = 0.9, 0.5, 0.95
MARGIN = 1e-4
N, DC, DD = 320, 32, 24


def normalize(a):
    a = a.astype(np.float64)
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def make(seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, DC))
    member = rng.integers(0, 20, size=N)
    clip = centers[member] + rng.normal(scale=0.45, size=(N, DC))
    # DINOv2: half the rows follow the cluster (alike to DINOv2 too), half are independent
    dcenters = rng.normal(size=(20, DD))
    dino = np.where(
        (rng.random(N) < 0.5)[:, None],
        dcenters[member] + rng.normal(scale=0.4, size=(N, DD)),
        rng.normal(size=(N, DD)),
    )
    # planted near-duplicates: copies with tiny noise on both sides
    for src, dst in [(3, 200), (3, 201), (40, 41), (100, 300)]:
        clip[dst] = clip[src] + rng.normal(scale=1e-3, size=DC)
        dino[dst] = dino[src] + rng.normal(scale=1e-3, size=DD)
    return normalize(clip), normalize(dino)


def search(clip, dino):
    s = clip @ clip.T  # float32
    iu, ju = np.nonzero(np.triu(s >= np.float32(CLIP_MIN), k=1))
    recs = []
    for i, j in zip(iu.tolist(), ju.tolist()):
        c = float(s[i, j])
        d = float(np.float32(np.dot(dino[i].astype(np.float64), dino[j].astype(np.float64))))
        if d < DINO_MAX:
            kind = "blind"
        elif d >= DEDUP:
            kind = "duplicate"
        else:
            continue
        recs.append({"i": i, "j": j, "clip": c, "dino": d, "kind": kind})
    return s, recs


def near_edge(clip, dino, s):
    iu = np.triu_indices(N, 1)
    if np.min(np.abs(s[iu] - CLIP_MIN)) < MARGIN:
        return True
    cand = s[iu] >= CLIP_MIN
    d = (dino @ dino.T)[iu][cand]
    return bool(np.any(np.abs(d - DINO_MAX) < MARGIN) or np.any(np.abs(d - DEDUP) < MARGIN))


def select(recs):
    parent = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for r in recs:
        if r["kind"] == "duplicate":
            a, b = find(r["i"]), find(r["j"])
            if a != b:
                parent[max(a, b)] = min(a, b)
    excluded = sorted(x for x in parent if find(x) != x)
    ex = set(excluded)
    blind = [r for r in recs if r["kind"] == "blind" and r["i"] not in ex and r["j"] not in ex]
    gap = lambda r: float(np.float32(r["clip"]) - np.float32(r["dino"]))
    blind.sort(key=lambda r: (-gap(r), r["i"], r["j"]))
    return [[r["i"], r["j"]] for r in blind], excluded


def main():
    for seed in range(1000):
        clip, dino = make(seed)
        s, recs = search(clip, dino)
        if not near_edge(clip, dino, s):
            break
    else:
        sys.exit("no seed without values near the thresholds")
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "clip.npy"), clip)
    np.save(os.path.join(OUT, "dino.npy"), dino)
    with open(os.path.join(OUT, "inputs.txt"), "w") as f:
        f.write("".join(f"photos/img_{k:04d}.jpg\n" for k in range(N)))
    pairs, excluded = select(recs)
    kinds = {k: sum(r["kind"] == k for r in recs) for k in ("blind", "duplicate")}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(
            {
                "generator": f"tools/reference/mine/make_fixtures.py (numpy {np.__version__}), seed {seed}",
                "clip_min": CLIP_MIN,
                "dino_max": DINO_MAX,
                "dedup": DEDUP,
                "margin": MARGIN,
                "records": recs,
                "selected": pairs,
                "excluded": excluded,
            },
            f,
            indent=0,
        )
    print(f"seed {seed}: {kinds}, {len(pairs)} selected, excluded {excluded}")


if __name__ == "__main__":
    main()
