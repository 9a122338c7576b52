"""cuelab.caption_metrics / clipscore: the numbers and skips of `cuelab caption-eval`."""

import json
import shutil

import numpy as np
import pytest

import cuelab
from conftest import CAPTIONS, CLIP, DOG, EAGLE, read_jsonl

REFS = CAPTIONS / "captions_sample.json"
CANDS = CAPTIONS / "results_sample.json"


def cli_eval(cli, out, *args, codes=(0, 1)):
    cli.run("caption-eval", *args, "--out", out, codes=codes)
    return json.loads((out / "summary.json").read_text()), read_jsonl(out / "per_image.jsonl")


def check_equal(got, summary, per_image):
    for key in ("images", "cider_d", "bleu", "rouge_l", "skipped", "empty_candidates", "empty_references"):
        assert got[key] == summary[key], key
    per = got["per_image"]
    assert per["image_id"] == [r["image_id"] for r in per_image]
    assert np.array_equal(per["cider_d"], [r["cider_d"] for r in per_image])
    assert np.array_equal(per["rouge_l"], [r["rouge_l"] for r in per_image])
    for k in range(4):
        assert np.array_equal(per[f"bleu_{k + 1}"], [r["bleu"][k] for r in per_image])


def test_files_give_the_cli_numbers(cli, tmp_path):
    got = cuelab.caption_metrics(REFS, CANDS)
    summary, per_image = cli_eval(cli, tmp_path / "cli", "--refs", REFS, "--cands", CANDS)
    check_equal(got, summary, per_image)
    n = got["images"]
    assert n > 0
    for name in ("cider_d", "rouge_l", "bleu_1", "bleu_2", "bleu_3", "bleu_4"):
        arr = got["per_image"][name]
        assert arr.dtype == np.float64 and arr.shape == (n,)
    assert got["cider_d"] == pytest.approx(got["per_image"]["cider_d"].mean(), abs=1e-12)


def test_python_objects_give_the_same_numbers_as_files():
    refs = json.loads(REFS.read_text())
    cands = json.loads(CANDS.read_text())
    a = cuelab.caption_metrics(refs, cands)
    b = cuelab.caption_metrics(REFS, CANDS)
    assert a["cider_d"] == b["cider_d"] and a["bleu"] == b["bleu"]
    assert np.array_equal(a["per_image"]["cider_d"], b["per_image"]["cider_d"])


def test_messy_input_is_scored_and_skips_are_reported(cli, tmp_path):
    refs = {1: ["A dog, on the GRASS!", "a brown dog"], "2": ["a cat", ""], "3": ["x"], "4": [5]}
    cands = [
        {"image_id": 1, "caption": "a dog"},
        {"image_id": 2, "caption": "   "},
        {"image_id": 2, "caption": "again"},
        {"image_id": 9, "caption": "no refs"},
        {"image_id": 3, "caption": None},
    ]
    got = cuelab.caption_metrics(refs, cands)
    (tmp_path / "r.json").write_text(json.dumps(refs))
    (tmp_path / "c.json").write_text(json.dumps(cands))
    summary, per_image = cli_eval(cli, tmp_path / "cli", "--refs", tmp_path / "r.json", "--cands", tmp_path / "c.json")
    check_equal(got, summary, per_image)
    assert got["empty_candidates"] == ["2"]
    reasons = {(s["image_id"], s["reason"]) for s in got["skipped"]}
    assert ("2", "duplicate candidate (first one kept)") in reasons
    assert ("9", "candidate for an image with no references") in reasons


def test_bad_input_raises_the_cli_message(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.caption_metrics(bad, CANDS)
    assert str(e.value) == cli.error("caption-eval", "--refs", bad, "--cands", CANDS)
    missing = tmp_path / "missing.json"
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.caption_metrics(REFS, missing)
    assert str(e.value) == cli.error("caption-eval", "--refs", REFS, "--cands", missing)
    with pytest.raises(cuelab.CuelabError, match="no image has both"):
        cuelab.caption_metrics({"1": ["a"]}, {"2": "b"})
    with pytest.raises(cuelab.CuelabError, match="expected a COCO"):
        cuelab.caption_metrics([1, 2], {"2": "b"})
    with pytest.raises(TypeError):
        cuelab.caption_metrics({"1": ["a"]}, {"1": object()})


def test_clipscore_equals_the_cli(cli, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(DOG, images / "1.jpg")
    shutil.copy(EAGLE, images / "COCO_val2014_000000000002.jpg")
    refs = {"1": ["a dog sits by a bicycle", "a dog on a porch"], "2": ["an eagle"], "3": ["a cat"]}
    # captions the random-weight tiny CLIP scores above 0 with the default prefix
    cands = {"1": "a cat", "2": "a red car", "3": "a cat"}
    got = cuelab.clipscore(refs, cands, images, CLIP)
    (tmp_path / "r.json").write_text(json.dumps(refs))
    (tmp_path / "c.json").write_text(json.dumps(cands))
    out = tmp_path / "cli"
    cli.run("caption-eval", "--refs", tmp_path / "r.json", "--cands", tmp_path / "c.json",
            "--images", images, "--model", CLIP, "--out", out, codes=(1,))
    rows = read_jsonl(out / "clipscore.jsonl")
    per = got["per_image"]
    assert per["image_id"] == [r["image_id"] for r in rows] == ["1", "2"]
    assert per["clip_score"].dtype == np.float64 and per["clip_score"].shape == (2,)
    assert np.array_equal(per["clip_score"], [r["clip_score"] for r in rows])
    assert np.array_equal(per["ref_clip_score"], [r["ref_clip_score"] for r in rows])
    assert got["clip_score"] == pytest.approx(np.mean(per["clip_score"]), abs=1e-12)
    assert [s["image_id"] for s in got["skipped"]] == ["3"]
    assert (per["clip_score"] > 0).all()
    assert got["prefix"] == cuelab.CLIPSCORE_PREFIX and got["w"] == cuelab.CLIPSCORE_W
    # no prefix (seed 002's variant) changes the scores
    other = cuelab.clipscore(refs, cands, images, CLIP, prefix="")
    assert not np.array_equal(other["per_image"]["clip_score"], per["clip_score"])
    with pytest.raises(cuelab.CuelabError, match="loading model|not found"):
        cuelab.clipscore(refs, cands, images, tmp_path / "no-model")
