"""cuelab.Model: embeddings and scores equal to `cuelab embed` / `cuelab score` (same code, so
bit-identical), dtypes and shapes, image kinds, errors."""

import json

import numpy as np
import pytest
from PIL import Image

import cuelab
from conftest import CLIP, DINO, DOG, EAGLE, KAFKA_PNG


@pytest.fixture(scope="module")
def clip():
    return cuelab.Model(CLIP)


def cli_embed(cli, tmp_path, *args):
    out = tmp_path / "e.npy"
    cli.run("embed", *args, "-o", out)
    return np.load(out)


def test_properties(clip):
    assert clip.embed_dim == 16 and clip.dtype == "f32" and clip.has_text
    assert clip.id.startswith("clip-vit:clip-vit-tiny@")
    assert clip.logit_scale == pytest.approx(100.0, rel=1e-3) and clip.logit_bias is None
    assert clip.preprocess.startswith("hf:")
    assert cuelab.Model(CLIP, preprocess="openai").preprocess.startswith("openai")


def test_image_embeddings_equal_the_cli(clip, cli, tmp_path):
    got = clip.embed_images([DOG, EAGLE, KAFKA_PNG])
    assert got.dtype == np.float32 and got.shape == (3, 16)
    want = cli_embed(cli, tmp_path, "--model", CLIP, DOG, EAGLE, KAFKA_PNG)
    assert want.dtype == np.float32
    assert np.array_equal(got, want)
    norm = clip.embed_images([DOG, EAGLE, KAFKA_PNG], normalize=True)
    assert np.array_equal(norm, cli_embed(cli, tmp_path, "--model", CLIP, "--normalize", DOG, EAGLE, KAFKA_PNG))
    assert np.allclose(np.linalg.norm(norm, axis=1), 1.0, atol=1e-6)


def test_text_embeddings_equal_the_cli(clip, cli, tmp_path):
    texts = ["a dog", "A photo of an eagle, perched.", "", "  naïve café  "]
    got = clip.embed_texts(texts)
    assert got.dtype == np.float32 and got.shape == (4, 16)
    args = [a for t in texts for a in ("--text", t)]
    assert np.array_equal(got, cli_embed(cli, tmp_path, "--model", CLIP, *args))
    assert clip.embed_texts([]).shape == (0, 16)
    assert clip.embed_texts("a dog").shape == (1, 16)


def test_scores_equal_the_cli(clip, cli):
    texts = ["a dog", "a bird", "a car"]
    s = clip.score([DOG, EAGLE], texts)
    for m in (s.cosine, s.logit, s.probability):
        assert m.dtype == np.float32 and m.shape == (2, 3)
    assert np.allclose(s.probability.sum(axis=1), 1.0, atol=1e-5)
    out = json.loads(cli.run("score", "--model", CLIP, DOG, EAGLE, *[a for t in texts for a in ("--text", t)], "--json").stdout)
    for i, image in enumerate(out["results"]):
        for j, row in enumerate(image["scores"]):
            assert s.cosine[i, j] == np.float32(row["cosine"])
            assert s.logit[i, j] == np.float32(row["logit"])
            assert s.probability[i, j] == np.float32(row["probability"])


def test_pil_array_and_path_inputs_agree(clip):
    pil = Image.open(KAFKA_PNG)
    arr = np.asarray(pil.convert("RGB"))
    by_path = clip.embed_images([KAFKA_PNG])
    assert np.array_equal(clip.embed_images([pil]), by_path)
    assert np.array_equal(clip.embed_images(arr), by_path)
    rendered = cuelab.render(KAFKA_PNG, [10, 10, 120, 90], "crop")
    assert clip.embed_images([rendered, pil]).shape == (2, 16)


def test_reduced_precision_equals_the_cli(cli, tmp_path):
    bf16 = cuelab.Model(CLIP, dtype="bf16")
    assert bf16.dtype == "bf16" and "bf16" in bf16.id
    got = bf16.embed_images([DOG, EAGLE])
    assert got.dtype == np.float32
    assert np.array_equal(got, cli_embed(cli, tmp_path, "--model", CLIP, "--dtype", "bf16", DOG, EAGLE))
    f32 = cuelab.Model(CLIP).embed_images([DOG, EAGLE])
    cos = (got * f32).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(f32, axis=1)
    assert (cos > 0.98).all(), cos


def test_image_only_models(cli, tmp_path):
    dino = cuelab.Model(DINO)
    assert not dino.has_text and dino.logit_scale is None
    got = dino.embed_images([DOG])
    assert got.shape == (1, dino.embed_dim)
    assert np.array_equal(got, cli_embed(cli, tmp_path, "--model", DINO, DOG))
    with pytest.raises(cuelab.CuelabError, match="embeds images only"):
        dino.embed_texts(["a dog"])
    with pytest.raises(cuelab.CuelabError, match="embeds images only"):
        dino.score([DOG], ["a dog"])


def test_errors_carry_the_cli_messages(cli, tmp_path):
    missing = tmp_path / "no-model"
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.Model(missing)
    assert str(e.value) == cli.error("embed", "--model", missing, DOG, "-o", tmp_path / "x.npy")
    assert str(e.value).startswith(f"loading model `{missing}`")
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.Model(CLIP, dtype="f64")
    assert str(e.value) == cli.error("embed", "--model", CLIP, "--dtype", "f64", DOG, "-o", tmp_path / "x.npy")
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.Model(CLIP, preprocess="torchvision")
    assert str(e.value) == cli.error("embed", "--model", CLIP, "--preprocess", "torchvision", DOG, "-o", tmp_path / "x.npy")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.Model(CLIP).embed_images([DOG, bad])
    assert str(e.value) == cli.error("embed", "--model", CLIP, DOG, bad, "-o", tmp_path / "x.npy")


def test_bad_arguments_raise(clip):
    with pytest.raises(TypeError):
        clip.embed_images([3.5])
    with pytest.raises(TypeError, match="uint8"):
        clip.embed_images([np.zeros((4, 4, 3), dtype=np.int64)])
    with pytest.raises(cuelab.CuelabError, match="at least one text"):
        clip.score([DOG], [])


def test_embedding_releases_the_gil(clip):
    """While the extension encodes images, other Python threads run."""
    import threading

    inside = threading.Event()
    done = threading.Event()
    images = [DOG, EAGLE] * 8

    def work():
        inside.set()
        clip.embed_images(images)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    inside.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
    t.join()
    # with the GIL held for the whole call, this loop could only run between switch intervals
    assert ticks > 10_000, ticks
