"""Where the side-by-side benchmarks find cuelab's release binaries.

Every benchmark measures what `cargo install` gives users: the release profile. Build everything
once, with the workspace's feature set (a `cargo build -p ONE_CRATE` resolves other features and
recompiles the dependencies):

    cargo build --release --workspace --bins --examples --features cuelab-vlm/mock

The binaries are looked up in `$CUELAB_BENCH_BIN_DIR` (default `$CARGO_TARGET_DIR/release`, else
`target/release`); set it to a `debug` folder only for a labelled dev-build figure.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = "cargo build --release --workspace --bins --examples --features cuelab-vlm/mock"


def bin_dir() -> Path:
    if os.environ.get("CUELAB_BENCH_BIN_DIR"):
        return Path(os.environ["CUELAB_BENCH_BIN_DIR"])
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"


def binary(name: str, example: bool = False) -> Path:
    """The path of the `cuelab` binary or of an example, exiting with the build command if absent."""
    path = bin_dir() / ("examples" if example else "") / name
    if not path.is_file():
        sys.exit(f"{path} is missing: build the release binaries first with\n    {BUILD}")
    return path


def profile() -> str:
    """`release` or `debug`, from the folder the binaries come from (printed beside every figure)."""
    return bin_dir().name
