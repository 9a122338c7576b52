#!/usr/bin/env python3
"""Side-by-side timing: pycocoevalcap 1.2 (PTBTokenizer via Java + Cider + Bleu(4) + Rouge) vs
`cuelab caption-eval` on the same synthetic 5,000 images x 5 references set, in one run.

Usage: /opt/refenv/bin/python tools/reference/captions/bench.py [path/to/cuelab]
(default binary: the release `cuelab`, see tools/reference/bench_bin.py).
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from make_fixtures import caption  # noqa: E402

from pycocoevalcap.bleu.bleu import Bleu  # noqa: E402
from pycocoevalcap.cider.cider import Cider  # noqa: E402
from pycocoevalcap.rouge.rouge import Rouge  # noqa: E402
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bench_bin  # noqa: E402  (tools/reference/bench_bin.py: the release binaries)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def nonempty(rng):
    while True:
        c = caption(rng)
        if c.strip():
            return c


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(bench_bin.binary("cuelab"))
    rng = random.Random(2024)
    refs = {str(i): [nonempty(rng) for _ in range(5)] for i in range(5000)}
    cands = {str(i): nonempty(rng) for i in range(5000)}
    tmp = tempfile.mkdtemp()
    rp, cp = os.path.join(tmp, "refs.json"), os.path.join(tmp, "cands.json")
    json.dump(refs, open(rp, "w"), ensure_ascii=False)
    json.dump(cands, open(cp, "w"), ensure_ascii=False)

    t0 = time.perf_counter()
    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in refs.items()})
    res = tok.tokenize({k: [{"caption": c}] for k, c in cands.items()})
    py = {}
    py["bleu"], _ = Bleu(4).compute_score(gts, res, verbose=0)
    py["cider_d"], _ = Cider().compute_score(gts, res)
    py["rouge_l"], _ = Rouge().compute_score(gts, res)
    t_py = time.perf_counter() - t0

    out = os.path.join(tmp, "out")
    t0 = time.perf_counter()
    subprocess.run([binary, "caption-eval", "--refs", rp, "--cands", cp, "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    t_rs = time.perf_counter() - t0
    rs = json.load(open(os.path.join(out, "summary.json")))

    print(f"pycocoevalcap : {t_py:8.3f} s  CIDEr-D {py['cider_d']:.6f}  BLEU-4 {py['bleu'][3]:.6f}  ROUGE-L {py['rouge_l']:.6f}")
    print(f"cuelab        : {t_rs:8.3f} s  CIDEr-D {rs['cider_d']:.6f}  BLEU-4 {rs['bleu'][3]:.6f}  ROUGE-L {rs['rouge_l']:.6f}  ({binary})")
    print(f"speed-up      : {t_py / t_rs:8.1f}x  (5000 images x 5 refs, {os.cpu_count()} cpus)")


if __name__ == "__main__":
    main()
