"""Shared fixtures of the pytest suite of the Python package `cuelab`.

The suite compares every number with the `cuelab` command on the same inputs, so it needs the
binary: `$CUELAB_BIN`, else `$CARGO_TARGET_DIR/debug/cuelab`, else `target/debug/cuelab`
(tools/ci/python-tests.sh builds it). Inputs are the repository's committed fixtures (the
random-weight tiny CLIP and DINOv2, the bundled photos, the caption sample) and synthetic scenes
written by both sides; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import List

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS = ROOT / "crates" / "cuelab-models" / "tests" / "data"
CLIP = MODELS / "clip-vit-tiny"
DINO = MODELS / "dinov2-tiny"
PHOTOS = ROOT / "assets" / "photos"
DOG = PHOTOS / "dog.jpg"
EAGLE = PHOTOS / "eagle.jpg"
KAFKA_PNG = MODELS / "images" / "kafka.pillow.png"
CAPTIONS = ROOT / "crates" / "cuelab-metrics" / "tests" / "data" / "sample"


def _find_binary() -> pathlib.Path:
    env = os.environ.get("CUELAB_BIN")
    if env:
        return pathlib.Path(env)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "cuelab"
        if p.is_file():
            return p
    pytest.fail(
        "the suite compares with the cuelab command: build it (cargo build -p cuelab) or set "
        "CUELAB_BIN",
        pytrace=False,
    )


class Cli:
    """Runs the `cuelab` command."""

    def __init__(self, binary: pathlib.Path) -> None:
        self.binary = binary

    def run(self, *args: object, codes=(0,)) -> subprocess.CompletedProcess:
        p = subprocess.run(
            [str(self.binary), *[str(a) for a in args]],
            capture_output=True,
            text=True,
            env={**os.environ, "RUST_LOG": "error"},
        )
        assert p.returncode in codes, f"cuelab {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def error(self, *args: object) -> str:
        """The error message the command prints (without `error: `), for a failing command."""
        p = self.run(*args, codes=(2,))
        lines: List[str] = p.stderr.splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith("error: "))
        return "\n".join(lines[start:])[len("error: ") :]


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli(_find_binary())


@pytest.fixture(scope="session")
def scenes(tmp_path_factory) -> pathlib.Path:
    """Six synthetic scenes written by `cuelab.scenes`; returns samples.jsonl."""
    import cuelab

    return cuelab.scenes(tmp_path_factory.mktemp("scenes"), seed=0, n=6)


def read_jsonl(path: pathlib.Path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
