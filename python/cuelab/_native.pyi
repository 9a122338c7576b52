"""Type stubs of the extension module ``cuelab._native`` (crates/cuelab-py). Use the typed API
of the package ``cuelab``; these are its building blocks."""

import os
from typing import Any, List, Optional, Sequence, Tuple, Union

__version__: str

_Path = Union[str, "os.PathLike[str]"]
#: A path, or (packed RGB bytes, width, height).
_Image = Union[_Path, Tuple[bytes, int, int]]
#: (bytearray, rows or height, columns or width)
_Buffer = Tuple[bytearray, int, int]

class CuelabError(Exception):
    """An error reported by cuelab, with the message the ``cuelab`` command prints."""

class Recipe:
    """A parsed cue recipe; ``str()`` is its canonical spec."""

    def __init__(self, spec: str) -> None: ...
    @property
    def spec(self) -> str: ...
    @property
    def is_plain(self) -> bool: ...
    @property
    def steps(self) -> List[str]: ...
    def __hash__(self) -> int: ...

class Model:
    def __init__(
        self,
        reference: str,
        dtype: str = "f32",
        preprocess: Optional[str] = None,
        device: str = "cpu",
    ) -> None: ...
    @property
    def id(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def embed_dim(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def preprocess(self) -> str: ...
    @property
    def has_text(self) -> bool: ...
    @property
    def logit_scale(self) -> Optional[float]: ...
    @property
    def logit_bias(self) -> Optional[float]: ...
    def embed_images(self, images: Sequence[_Image], normalize: bool = False) -> _Buffer: ...
    def embed_texts(self, texts: Sequence[str], normalize: bool = False) -> _Buffer: ...
    def score(
        self, images: Sequence[_Image], texts: Sequence[str]
    ) -> Tuple[_Buffer, _Buffer, _Buffer]: ...

def render(
    image: _Image, regions: str, cue: str, box_format: str = "xyxy", many: bool = False
) -> List[Tuple[bytearray, int, int]]: ...
def cues_json() -> str: ...
def caption_metrics(refs: Union[_Path, bytes], cands: Union[_Path, bytes]) -> str: ...
def clipscore(
    refs: Union[_Path, bytes],
    cands: Union[_Path, bytes],
    images: _Path,
    model: str,
    prefix: str,
    w: float,
    preprocess: str,
) -> str: ...
def clipscore_defaults() -> Tuple[str, float]: ...
def ground(
    *,
    data: _Path,
    out: _Path,
    config_json: Optional[str] = None,
    config_toml: Optional[str] = None,
    config_file: Optional[_Path] = None,
    models: Optional[List[str]] = None,
    split: Optional[str] = None,
    images: Optional[_Path] = None,
    preprocess: str = "openai",
    device: str = "cpu",
    shard: Optional[str] = None,
    cache: bool = True,
    progress: bool = False,
    proposals: Optional[_Path] = None,
    proposals_format: str = "xyxy",
    min_score: float = 0.0,
    detector: Optional[str] = None,
    detector_options: Optional[str] = None,
    limit: Optional[int] = None,
    seed: Optional[int] = None,
) -> None: ...
def ask(
    *,
    data: _Path,
    out: _Path,
    backend_json: str,
    config_json: Optional[str] = None,
    config_toml: Optional[str] = None,
    config_file: Optional[_Path] = None,
    cues: Optional[List[str]] = None,
    order: Optional[str] = None,
    system: Optional[str] = None,
    limit: Optional[int] = None,
    seed: Optional[int] = None,
    tasks: Optional[List[str]] = None,
    qtypes: Optional[List[str]] = None,
    skip_bad: bool = False,
    shard: Optional[str] = None,
    progress: bool = False,
) -> str: ...
def read_run(dir: _Path) -> Tuple[str, Optional[str], Optional[str], List[str]]: ...
def scenes(
    out: _Path,
    *,
    seed: int = 1,
    n: int = 200,
    pairs: Optional[int] = None,
    clips: Optional[int] = None,
    frames: int = 8,
    size: int = 256,
) -> Any: ...
