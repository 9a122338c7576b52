"""cuelab.ground / ask / load_run / scenes: the same run directories as `cuelab ground` /
`cuelab ask` / `cuelab scenes` on the same inputs, resumable, read back as tables."""

import json

import numpy as np
import pytest

import cuelab
from conftest import CLIP, read_jsonl

MCQ_CUES = ["plain", "rect(color=red,width=3)"]


def summary(path):
    return json.loads((path / "summary.json").read_text())


def test_scenes_are_the_cli_scenes(cli, scenes, tmp_path):
    cli.run("scenes", "--seed", 0, "--n", 6, "-o", tmp_path / "cli")
    assert scenes.name == "samples.jsonl"
    ours = scenes.read_text().replace(str(scenes.parent), "<dir>")
    theirs = (tmp_path / "cli" / "samples.jsonl").read_text().replace(str(tmp_path / "cli"), "<dir>")
    assert ours == theirs
    for png in sorted((tmp_path / "cli").rglob("*.png"))[:5]:
        rel = png.relative_to(tmp_path / "cli")
        assert (scenes.parent / rel).read_bytes() == png.read_bytes(), rel
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.scenes(tmp_path / "small", seed=0, n=2, size=32)
    assert str(e.value) == cli.error("scenes", "--seed", 0, "--n", 2, "--size", 32, "-o", tmp_path / "small")


@pytest.fixture(scope="module")
def grounded(scenes, tmp_path_factory):
    out = tmp_path_factory.mktemp("ground") / "py"
    return cuelab.ground({"models": [str(CLIP)], "debias": 10}, data=scenes, out=out)


def test_grounding_equals_the_cli(cli, scenes, grounded, tmp_path):
    out = tmp_path / "cli"
    cli.run("ground", "--data", scenes, "--model", CLIP, "--debias", 10, "-o", out, codes=(0, 1))
    assert grounded.summary == summary(out)
    assert grounded.records == sorted(read_jsonl(out / "results.jsonl"), key=lambda r: r["key"])
    cli_manifest = json.loads((out / "manifest.json").read_text())
    assert grounded.manifest["config_hash"] == cli_manifest["config_hash"]
    assert grounded.summary_text == (out / "summary.txt").read_text()


def test_grounding_rows_as_tables(grounded):
    assert grounded.kind == "grounding"
    n = len(grounded.records)
    assert n == 2 * len({r["sample"] for r in grounded.records}) and n > 0
    table = grounded.rows
    import pyarrow as pa

    assert isinstance(table, pa.Table) and table.num_rows == n
    assert {"key", "variant", "sample", "iou", "scores", "chosen", "target"} <= set(table.column_names)
    assert pa.types.is_floating(table.schema.field("iou").type)
    df = grounded.to_pandas()
    assert len(df) == n and df["iou"].between(0, 1).all()
    means = df.groupby("variant")["iou"].mean()
    by_id = {v["id"]: v for v in grounded.summary["variants"]}
    for variant, m in means.items():
        assert m == pytest.approx(by_id[variant]["all"]["miou"]["mean"], abs=1e-6)


def test_grounding_resumes_and_refuses_another_config(cli, scenes, grounded):
    again = cuelab.ground({"models": [str(CLIP)], "debias": 10}, data=scenes, out=grounded.dir)
    assert again.summary == grounded.summary and again.records == grounded.records
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.ground({"models": [str(CLIP)], "debias": 3}, data=scenes, out=grounded.dir)
    assert str(e.value) == cli.error("ground", "--data", scenes, "--model", CLIP, "--debias", 3, "-o", grounded.dir)


def test_grounding_config_forms(scenes, tmp_path, grounded):
    toml = f'models = ["{CLIP}"]\ndebias = 10\n'
    from_text = cuelab.ground(toml, data=scenes, out=tmp_path / "text")
    path = tmp_path / "exp.toml"
    path.write_text(toml)
    from_file = cuelab.ground(path, data=scenes, out=tmp_path / "file")
    from_keywords = cuelab.ground(models=[CLIP], data=scenes, out=tmp_path / "kw", config={"debias": 10})
    for run in (from_text, from_file, from_keywords):
        assert run.summary == grounded.summary
    limited = cuelab.ground({"models": [str(CLIP)], "debias": 10, "data": str(scenes)}, out=tmp_path / "lim", limit=2)
    assert len({r["sample"] for r in limited.records}) == 2


def test_grounding_bad_input_raises(cli, scenes, tmp_path):
    with pytest.raises(cuelab.CuelabError, match="unknown field `modles`"):
        cuelab.ground({"modles": [str(CLIP)]}, data=scenes, out=tmp_path / "a")
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.ground({"models": [str(CLIP)], "cues": [["ellipse(colr=red)"]]}, data=scenes, out=tmp_path / "b")
    bad_cue = tmp_path / "bad.toml"
    bad_cue.write_text(f'models = ["{CLIP}"]\ncues = [["ellipse(colr=red)"]]\n')
    assert str(e.value) == cli.error("ground", "--config", bad_cue, "--data", scenes, "-o", tmp_path / "c")
    missing = tmp_path / "none.jsonl"
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.ground({"models": [str(CLIP)]}, data=missing, out=tmp_path / "d")
    assert str(e.value) == cli.error("ground", "--data", missing, "--model", CLIP, "-o", tmp_path / "e")
    with pytest.raises(cuelab.CuelabError, match="I/N"):
        cuelab.ground({"models": [str(CLIP)]}, data=scenes, out=tmp_path / "f", shard="4/2")
    with pytest.raises(TypeError, match="data"):
        cuelab.ground({"models": [str(CLIP)]}, out=tmp_path / "g")


def test_ask_with_clip_equals_the_cli(cli, scenes, tmp_path):
    run = cuelab.ask(scenes, out=tmp_path / "py", clip=CLIP, cues=MCQ_CUES, tasks=["multiple_choice"])
    out = tmp_path / "cli"
    args = ["ask", "--data", scenes, "--clip", CLIP, "--task", "multiple_choice", "-o", out]
    for c in MCQ_CUES:
        args += ["--cue", c]
    cli.run(*args, codes=(0, 1))
    assert run.kind == "vqa"
    assert run.summary == summary(out)
    assert run.records == sorted(read_jsonl(out / "results.jsonl"), key=lambda r: r["key"])
    assert run.info["missing"] == 0
    assert run.rows.num_rows == len(run.records) > 0
    assert set(run.to_pandas()["variant"]) == {"plain", next(v["id"] for v in run.manifest["variants"] if v["id"] != "plain")}
    # resumed: nothing asked again, same summary
    again = cuelab.ask(scenes, out=tmp_path / "py", clip=CLIP, cues=MCQ_CUES, tasks=["multiple_choice"])
    assert again.summary == run.summary


def test_ask_bad_input_raises(cli, scenes, tmp_path):
    with pytest.raises(cuelab.CuelabError, match="endpoint"):
        cuelab.ask(scenes, out=tmp_path / "a")
    with pytest.raises(cuelab.CuelabError, match="model is required"):
        cuelab.ask(scenes, out=tmp_path / "b", endpoint="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError):
        cuelab.ask(scenes, out=tmp_path / "c", clip=CLIP, local=CLIP)
    with pytest.raises(cuelab.CuelabError) as e:
        cuelab.ask(scenes, out=tmp_path / "d", clip=CLIP, cues=["plain", "plain"])
    assert str(e.value) == cli.error("ask", "--data", scenes, "--clip", CLIP, "--cue", "plain", "--cue", "plain", "-o", tmp_path / "e")
    with pytest.raises(cuelab.CuelabError, match="no askable questions"):
        cuelab.ask(scenes, out=tmp_path / "f", clip=CLIP, qtypes=["no-such-type"])


def test_load_run_reads_any_run(grounded, tmp_path):
    run = cuelab.load_run(grounded.dir)
    assert run.summary == grounded.summary and run.records == grounded.records
    assert "grounding" in repr(run)
    # a killed run: no summary yet, a torn last line ignored
    copy = tmp_path / "torn"
    copy.mkdir()
    (copy / "manifest.json").write_text((grounded.dir / "manifest.json").read_text())
    lines = (grounded.dir / "results.jsonl").read_text().splitlines(keepends=True)
    (copy / "results.jsonl").write_text("".join(lines[:3]) + lines[3][:20])
    torn = cuelab.load_run(copy)
    assert torn.summary is None and len(torn.records) == 3 and torn.rows.num_rows == 3
    with pytest.raises(cuelab.CuelabError, match="not a run directory"):
        cuelab.load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(cuelab.CuelabError, match="manifest.json"):
        cuelab.load_run(tmp_path / "empty")


def test_ask_remote_backend_settings_reach_the_client(cli, scenes, tmp_path):
    """An OpenAI-compatible endpoint that refuses connections: both sides record the same
    unanswered questions under the same run identity (no retries, so it is quick)."""
    url = "http://127.0.0.1:9/v1"
    run = cuelab.ask(scenes, out=tmp_path / "py", endpoint=url, model="m", backend={"retries": 0, "timeout_s": 2},
                     tasks=["multiple_choice"], limit=2)
    out = tmp_path / "cli"
    cli.run("ask", "--data", scenes, "--endpoint", url, "--model", "m", "--retries", 0, "--timeout", 2,
            "--task", "multiple_choice", "--limit", 2, "-o", out, codes=(1,))
    assert run.info["missing"] == 2 and run.records == []
    assert run.summary == summary(out)
    cli_manifest = json.loads((out / "manifest.json").read_text())
    assert run.manifest["config_hash"] == cli_manifest["config_hash"]
    assert run.manifest["backend_identity"] == cli_manifest["backend_identity"]
    assert (tmp_path / "py" / "failures.jsonl").is_file()
    with pytest.raises(cuelab.CuelabError, match="unknown field"):
        cuelab.ask(scenes, out=tmp_path / "x", endpoint=url, model="m", backend={"retry": 0})
