#!/usr/bin/env python3
"""Build the committed captioning parity fixture for cuelab-metrics.

Generates a deterministic, messy caption set (seeded; word lists below, no downloaded data),
runs pycocoevalcap 1.2 on it exactly as COCOEvalCap.evaluate does (PTBTokenizer on references
and candidates separately, then Cider, Bleu(4), Rouge on the tokenised text) and writes
crates/cuelab-metrics/tests/data/captions_parity.json with the inputs, the tokenizer output of
every caption, and per-image and corpus scores. Also writes the small CLI sample under
crates/cuelab-metrics/tests/data/sample/.

Run:  /opt/refenv/bin/python tools/reference/captions/make_fixtures.py   (needs Java for the tokenizer)
"""
import json
import os
import random
import sys

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "crates", "cuelab-metrics", "tests", "data")

SUBJECTS = ["a man", "A woman", "two dogs", "the cat", "People", "a 10-year-old boy", "Mr. Smith",
            "a well-known chef", "THREE KIDS", "a girl", "an old-fashioned train", "the U.S. flag",
            "a café owner", "a naïve puppy", "Zürich's tram", "the dog's owner", "James's bike",
            "the dogs' bowl", "a jalapeño pizza", "a group of 3,000 fans", "a self-driving car"]
VERBS = ["is riding", "rides", "sits on", "is standing next to", "doesn't like", "isn't near",
         "can't reach", "won't leave", "is looking at", "holds", "they're near", "it's beside",
         "I'm watching", "we've seen", "you'll find", "he'd paint", "cannot see", "is gonna eat",
         "jumps over", "lies under"]
ADJ = ["red", "big", "small", "wooden", "shiny", "half-eaten", "blue-green", "old", "(red)",
       "\"fancy\"", "'tiny'", "“curly”", "‘quoted’", "x-ray", "5%", "$5", "3.14", "12:30",
       "1,2,3", "#1", "salt & pepper", "AT&T", "B&B", "e.g.", "etc.", "a.m.", "co-op", "---", "--",
       "–", "—", "…", "...", "😀", "中文", "ß", "½", "€10", "£3", "&amp;", "[sic]", "{x}", "x*y",
       "a+b", "a=b", "a/b", "a|b", "'90s", "'em", "o'clock", "dog's", "kids'"]
NOUNS = ["bike", "street", "table", "pizza", "surfboard", "kitchen", "giraffe", "umbrella",
         "beach", "tree", "skateboard", "laptop", "train", "bus", "sandwich", "frisbee", "horse",
         "clock", "mirror", "bench", "field", "plate", "window", "boat", "sign"]
PREPS = ["on", "in", "near", "under", "with", "beside", "at", "behind", "on top of", "next to"]
ENDS = [".", ".", ".", "", "!", "?", "!!!", "?!", "...", "…", " .", ",", ";", ":", "..", "!?"]


def phrase(rng):
    parts = [rng.choice(SUBJECTS), rng.choice(VERBS)]
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.6:
            parts.append(rng.choice(["a", "the", "two", "some"]))
        if rng.random() < 0.5:
            parts.append(rng.choice(ADJ))
        parts.append(rng.choice(NOUNS) + rng.choice(["", "", "", ",", ";", ":", "s"]))
        if rng.random() < 0.5:
            parts.append(rng.choice(PREPS))
    return " ".join(parts)


def caption(rng):
    r = rng.random()
    if r < 0.02:
        return rng.choice(["", "   ", "...", "!!", ".", "( )", "-"])
    if r < 0.04:  # very long
        return " ".join(phrase(rng) for _ in range(rng.randint(15, 40))) + "."
    if r < 0.07:  # repeated words
        w = rng.choice(NOUNS)
        return " ".join([w] * rng.randint(2, 12))
    s = phrase(rng)
    if rng.random() < 0.3:
        s += rng.choice([", and ", " while ", " -- ", " - ", "; "]) + phrase(rng)
    s += rng.choice(ENDS)
    if rng.random() < 0.1:
        s = s.upper()
    if rng.random() < 0.1:
        s = s.replace(" ", rng.choice(["  ", "\t", " \n "]), 2)
    if rng.random() < 0.05:
        s = "  " + s + "  "
    return s


def build(seed=6, n=1200):
    rng = random.Random(seed)
    images = []
    for i in range(n):
        refs = [caption(rng) for _ in range(rng.choice([1, 3, 5, 5, 5, 5, 7]))]
        cand = rng.choice(refs) if rng.random() < 0.05 else caption(rng)
        images.append({"image_id": str(100000 + i * 7), "refs": refs, "cand": cand})
    return images


# Candidates that are empty, or become empty after PTB tokenisation (whitespace and the
# punctuation pycocoevalcap strips). pycocoevalcap scores them (0 unless a reference is empty
# too) and keeps them in every mean; cuelab must do the same, never skip them.
EMPTY_CANDS = ["", " ", "\t", "\n", "  \n  ", ".", "...", "!!", "?!", "-", "--", ";", ":", ",",
               "( )", "[ ]", "{ }", "''", "``", "'", "- . -", " . , ; ",
               "…", "!?!?", "-- ... --", "( ... )"]


def build_empty(seed=13):
    """Images whose candidate is empty or punctuation-only; some also have an empty reference."""
    rng = random.Random(seed)
    images = []
    for j, cand in enumerate(EMPTY_CANDS):
        refs = [phrase(rng) + "." for _ in range(rng.choice([1, 3, 5]))]
        if j % 4 == 3:  # an empty reference as well (ROUGE-L's split(" ") quirk)
            refs.append(rng.choice(["", "...", " "]))
        if j == len(EMPTY_CANDS) - 1:  # only empty references
            refs = ["", "."]
        images.append({"image_id": str(900000 + j), "refs": refs, "cand": cand})
    return images


def score(images):
    tok = PTBTokenizer()
    gts = {im["image_id"]: [{"caption": c} for c in im["refs"]] for im in images}
    res = {im["image_id"]: [{"caption": im["cand"]}] for im in images}
    gts_t = tok.tokenize(gts)
    res_t = tok.tokenize(res)
    assert gts_t.keys() == res_t.keys(), "tokenizer lost captions"
    out = {}
    bleu, bleu_per = Bleu(4).compute_score(gts_t, res_t, verbose=0)
    cider, cider_per = Cider().compute_score(gts_t, res_t)
    rouge, rouge_per = Rouge().compute_score(gts_t, res_t)
    ids = list(gts_t.keys())
    per = []
    for j, i in enumerate(ids):
        per.append({"image_id": i, "cider_d": float(cider_per[j]),
                    "bleu": [float(bleu_per[k][j]) for k in range(4)], "rouge_l": float(rouge_per[j])})
    out["corpus"] = {"cider_d": float(cider), "bleu": [float(b) for b in bleu], "rouge_l": float(rouge)}
    out["per_image"] = per
    return gts_t, res_t, out


def main():
    images = build()
    empties = build_empty()
    images += empties
    gts_t, res_t, scores = score(images)
    for im in images:
        im["refs_tok"] = gts_t[im["image_id"]]
        im["cand_tok"] = res_t[im["image_id"]][0]
    data = {"generator": "tools/reference/captions/make_fixtures.py (seed 6, 1200 images; "
                         f"+{len(empties)} empty/punctuation-only candidates, seed 13)",
            "reference": "pycocoevalcap 1.2 (PTBTokenizer: Stanford CoreNLP 3.4.1, Java 17)",
            "images": images, **scores}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "captions_parity.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
    # Small CLI sample: COCO annotation + COCO results format, 20 images: the first 15 random ones
    # and 5 with empty or punctuation-only candidates (scored, never skipped).
    sample = os.path.join(OUT, "sample")
    os.makedirs(sample, exist_ok=True)
    sub = images[:15] + [empties[k] for k in (0, 1, 3, 6, 20)]
    anns, k = [], 0
    for im in sub:
        for c in im["refs"]:
            k += 1
            anns.append({"image_id": int(im["image_id"]), "id": k, "caption": c})
    with open(os.path.join(sample, "captions_sample.json"), "w", encoding="utf-8") as f:
        json.dump({"images": [{"id": int(im["image_id"])} for im in sub], "annotations": anns}, f,
                  ensure_ascii=False, indent=1)
    with open(os.path.join(sample, "results_sample.json"), "w", encoding="utf-8") as f:
        json.dump([{"image_id": int(im["image_id"]), "caption": im["cand"]} for im in sub], f,
                  ensure_ascii=False, indent=1)
    _, _, s = score(sub)
    with open(os.path.join(sample, "expected_summary.json"), "w", encoding="utf-8") as f:
        json.dump(s["corpus"], f, indent=1)
    print("corpus:", scores["corpus"], file=sys.stderr)


if __name__ == "__main__":
    main()
