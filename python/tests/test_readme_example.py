"""The README's notebook-style example (render -> embed -> score -> grounding run -> pandas),
run as written, in a scratch folder that sees the checkout's `crates/` and `assets/`."""

import os
import re

import numpy as np

from conftest import ROOT


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Python\n") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Python section has one python example"
    return blocks[0]


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    for name in ("crates", "assets"):
        os.symlink(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(readme_example(), "README.md (Python)", "exec"), scope)
    printed = capsys.readouterr().out
    assert "(576, 768, 3) uint8" in printed
    assert scope["emb"].shape == (2, 16) and scope["emb"].dtype == np.float32
    assert scope["scores"].probability.shape == (2, 2)
    run, df = scope["run"], scope["df"]
    assert run.summary is not None and len(run.summary["variants"]) == 2
    assert len(df) == len(run.records) > 0
    assert "mIoU" in printed
    assert (tmp_path / "runs" / "py-example" / "ground" / "results.jsonl").is_file()
