"""cuelab.render / cues / Recipe: same pixels as `cuelab render`, same list as `cuelab cues`."""

import json

import numpy as np
import pytest
from PIL import Image

import cuelab
from conftest import DOG, EAGLE, KAFKA_PNG

CUE = "ellipse(color=red,width=3)+blur(radius=20)+gray"


def cli_render(cli, tmp_path, image, *args):
    out = tmp_path / "cli.png"
    cli.run("render", image, *args, "-o", out)
    return np.asarray(Image.open(out).convert("RGB"))


def test_path_input_returns_the_cli_pixels(cli, tmp_path):
    got = cuelab.render(DOG, [120, 210, 320, 540], CUE)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.uint8 and got.shape == (576, 768, 3)
    want = cli_render(cli, tmp_path, DOG, "--box", "120,210,320,540", "--cue", CUE)
    assert np.array_equal(got, want)


@pytest.mark.parametrize(
    "cue,box,fmt",
    [
        ("crop(pad=0.1)", [50.5, 60, 400, 300.25], "xyxy"),
        ("rect(color=blue,width=2)+dim(amount=0.5)", [10, 20, 200, 100], "xywh"),
        ("ellipse", [10, 20, 200, 100], "pillow"),
    ],
)
def test_box_formats_and_crops_match_the_cli(cli, tmp_path, cue, box, fmt):
    got = cuelab.render(EAGLE, box, cue, box_format=fmt)
    text = ",".join(str(v) for v in box)
    want = cli_render(cli, tmp_path, EAGLE, f"--box={text}", "--box-format", fmt, "--cue", cue)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


def test_trajectory_points_and_label_match_the_cli(cli, tmp_path):
    cue = "trajectory+label(text=auto)"
    got = cuelab.render(DOG, [100, 100, 300, 300], cue, points=[(110, 120), (200, 250), (290, 280)], label="dog")
    want = cli_render(
        cli, tmp_path, DOG, "--box", "100,100,300,300", "--cue", cue,
        "--points", "110,120;200,250;290,280", "--label", "dog",
    )
    assert np.array_equal(got, want)


def test_pil_and_array_inputs_give_the_same_pixels():
    pil = Image.open(KAFKA_PNG)
    arr = np.asarray(pil.convert("RGB"))
    from_pil = cuelab.render(pil, [40, 30, 200, 180], CUE)
    from_arr = cuelab.render(arr, [40, 30, 200, 180], CUE)
    from_path = cuelab.render(KAFKA_PNG, [40, 30, 200, 180], CUE)
    assert isinstance(from_pil, Image.Image) and from_pil.mode == "RGB"
    assert from_pil.size == pil.size
    assert np.array_equal(np.asarray(from_pil), from_arr)
    assert np.array_equal(from_arr, from_path)
    # the input array is not modified and the output is a fresh, writable array
    assert np.array_equal(arr, np.asarray(pil.convert("RGB")))
    from_arr[0, 0] = 0


def test_grayscale_inputs_are_expanded_as_pillow_does():
    gray = Image.open(KAFKA_PNG).convert("L")
    a = cuelab.render(np.asarray(gray), [0, 0, 10, 10], "plain")
    b = np.asarray(gray.convert("RGB"))
    assert np.array_equal(a, b)
    c = cuelab.render(gray, [0, 0, 10, 10], "plain")
    assert np.array_equal(np.asarray(c), b)


def test_many_regions_match_the_cli_boxes_file(cli, tmp_path):
    regions = [
        [10, 10, 100, 100],
        {"box": [200, 150, 400, 380], "label": "B"},
        {"polygon": [[300, 300, 500, 320, 420, 500]]},
    ]
    got = cuelab.render(DOG, regions, "rect(color=red,width=3)+label(text=auto)")
    assert isinstance(got, list) and len(got) == 3
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps(regions))
    out = tmp_path / "many"
    cli.run("render", DOG, "--boxes", boxes, "--cue", "rect(color=red,width=3)+label(text=auto)", "-o", out)
    for i, g in enumerate(got):
        want = np.asarray(Image.open(out / f"dog_{i:03d}.png").convert("RGB"))
        assert np.array_equal(g, want), i
    # an (n, 4) array is a list of boxes
    arr = cuelab.render(DOG, np.array([[10, 10, 100, 100], [20, 20, 60, 60]]), "crop")
    assert [a.shape for a in arr] == [(90, 90, 3), (40, 40, 3)]


def test_recipe_objects_and_canonical_specs():
    r = cuelab.Recipe("ellipse+gray")
    assert str(r) == "ellipse(color=red,width=3,aa=false,alpha=1)+gray"
    assert r == cuelab.Recipe(str(r)) and hash(r) == hash(cuelab.Recipe(str(r)))
    assert r.steps == ["ellipse", "gray"] and not r.is_plain
    assert cuelab.Recipe("plain").is_plain
    a = cuelab.render(DOG, [100, 100, 300, 300], r)
    b = cuelab.render(DOG, [100, 100, 300, 300], "ellipse+gray")
    assert np.array_equal(a, b)


def test_cues_lists_what_the_cli_lists(cli):
    got = cuelab.cues()
    want = json.loads(cli.run("cues", "--json").stdout)
    assert got == want
    assert {"blur", "gray", "ellipse", "crop"} <= {c["name"] for c in got}


def test_bad_cue_raises_the_cli_message(cli, tmp_path):
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.render(DOG, [1, 2, 30, 40], "ellipse(colr=red)")
    assert str(e.value) == cli.error("render", DOG, "--box", "1,2,30,40", "--cue", "ellipse(colr=red)", "-o", tmp_path / "x.png")
    assert "unknown parameter 'colr'" in str(e.value)


def test_bad_box_raises_the_cli_message(cli, tmp_path):
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.render(DOG, [100, 100, 50, 50], "rect")
    assert str(e.value) == cli.error("render", DOG, "--box", "100,100,50,50", "--cue", "rect", "-o", tmp_path / "x.png")


def test_box_outside_the_image_raises_the_cli_message(cli, tmp_path):
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.render(DOG, [5000, 5000, 6000, 6000], "rect")
    assert str(e.value) == cli.error("render", DOG, "--box", "5000,5000,6000,6000", "--cue", "rect", "-o", tmp_path / "x.png")


def test_missing_file_raises_the_cli_message(cli, tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.render(missing, [0, 0, 5, 5], "rect")
    assert str(e.value) == cli.error("render", missing, "--box", "0,0,5,5", "--cue", "rect", "-o", tmp_path / "x.png")


def test_bad_inputs_raise():
    with pytest.raises(TypeError, match="uint8"):
        cuelab.render(np.zeros((8, 8, 3), dtype=np.float32), [0, 0, 4, 4], "rect")
    with pytest.raises(ValueError, match="shape"):
        cuelab.render(np.zeros((8, 8, 4), dtype=np.uint8), [0, 0, 4, 4], "rect")
    with pytest.raises(TypeError):
        cuelab.render(12, [0, 0, 4, 4], "rect")
    with pytest.raises(cuelab.CuelabError, match="expected a box"):
        cuelab.render(DOG, [1, 2, 3], "rect")
    with pytest.raises(cuelab.CuelabError, match="region #1"):
        cuelab.render(DOG, [[0, 0, 4, 4], {"points": [[1, 2]]}], "rect")
    with pytest.raises(cuelab.CuelabError, match="empty"):
        cuelab.render(DOG, [], "rect")
    with pytest.raises(ValueError, match="box_format"):
        cuelab.render(DOG, [0, 0, 4, 4], "rect", box_format="yxyx")
