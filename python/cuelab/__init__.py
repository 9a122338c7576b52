"""cuelab: measure what vision-language models see, and how visual cues change it.

The Python face of the cuelab Rust library (the extension module ``cuelab._native``): every
function calls the same library code as the ``cuelab`` command, so the same inputs give the same
numbers, bit for bit.

- :func:`render`, :func:`cues`, :class:`Recipe`: draw cues (Pillow-exact blur, grayscale, red
  ellipses, Set-of-Mark labels, crops, ...) on paths, PIL images or uint8 arrays;
- :class:`Model`: CLIP (ViT, ResNet, open_clip), SigLIP and DINOv2 embeddings and image-text
  scores;
- :func:`caption_metrics`, :func:`clipscore`: CIDEr-D, BLEU-1..4, ROUGE-L identical to
  pycocoevalcap; CLIPScore / RefCLIPScore;
- :func:`ground`, :func:`ask`, :func:`load_run`, :func:`scenes`: experiments into resumable run
  directories, read back as :class:`Run` (``.summary`` dict, ``.rows`` pyarrow Table).

Errors raise :class:`CuelabError` with the message the command prints. Calls that decode images,
run models or experiments release the GIL.
"""

from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _native
from ._native import CuelabError, Recipe

__version__: str = _native.__version__

__all__ = [
    "CuelabError",
    "Model",
    "Recipe",
    "Run",
    "Scores",
    "ask",
    "caption_metrics",
    "clipscore",
    "cues",
    "ground",
    "load_run",
    "render",
    "scenes",
]

PathLike = Union[str, "os.PathLike[str]"]
#: An image: a file path (decoded as the CLI decodes it: Pillow-exact JPEG, EXIF orientation),
#: a PIL image (converted to RGB), or a uint8 array of shape (H, W, 3) or (H, W).
ImageLike = Any
#: Default model of :func:`clipscore` and :func:`ground` (looked up in the local HF cache).
DEFAULT_CLIP = "openai/clip-vit-base-patch32"
CLIPSCORE_PREFIX, CLIPSCORE_W = _native.clipscore_defaults()


def _is_pil(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "tobytes") and hasattr(obj, "mode")


def _image_arg(image: ImageLike) -> Any:
    """An image as the extension module takes it: a path, or (bytes, width, height) of RGB."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    if _is_pil(image):
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        return (rgb.tobytes(), rgb.width, rgb.height)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(f"image arrays must be uint8, got {image.dtype}")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image arrays must have shape (H, W, 3) or (H, W), got {image.shape}")
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            raise ValueError(f"image array is empty: shape {image.shape}")
        return (np.ascontiguousarray(image).tobytes(), w, h)
    raise TypeError(
        f"expected an image path, a PIL image or a uint8 numpy array, got {type(image).__name__}"
    )


def _images_arg(images: Union[ImageLike, Sequence[ImageLike]]) -> List[Any]:
    if isinstance(images, (str, os.PathLike)) or _is_pil(images) or isinstance(images, np.ndarray):
        images = [images]
    return [_image_arg(i) for i in images]


def _to_array(payload: Any) -> np.ndarray:
    data, h, w = payload
    return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)


def _matrix(payload: Any) -> np.ndarray:
    data, rows, cols = payload
    return np.frombuffer(data, dtype="<f4").reshape(rows, cols).astype(np.float32, copy=False)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default)


# --------------------------------------------------------------------------- rendering


def cues() -> List[Dict[str, Any]]:
    """The cue primitives: name, phase, doc and parameters (name, kind, default, doc), as
    ``cuelab cues --json`` lists them."""
    return json.loads(_native.cues_json())


def _is_single_region(region: Any) -> bool:
    if isinstance(region, Mapping):
        return True
    if isinstance(region, np.ndarray):
        return region.ndim == 1
    if isinstance(region, (list, tuple)):
        return len(region) > 0 and isinstance(region[0], (int, float, np.number))
    return False


def render(
    image: ImageLike,
    box_or_region: Any,
    cue: Union[str, Recipe] = "plain",
    *,
    box_format: str = "xyxy",
    points: Optional[Sequence[Sequence[float]]] = None,
    label: Optional[str] = None,
) -> Any:
    """Draw ``cue`` on ``image`` for a region, as ``cuelab render`` does.

    ``box_or_region``: a box ``[x0, y0, x1, y1]`` (read as ``box_format``: ``xyxy`` with an
    exclusive end, ``xywh``, ``pillow`` with an inclusive end), or a dict with one of ``box``,
    ``polygon`` (COCO lists), ``rle`` (``{"size": [h, w], "counts": ...}``) and optional
    ``label`` and ``points``; or a list of those, which returns a list of images. ``points`` and
    ``label`` apply to a single box (trajectory points, text of ``label(text=auto)``).

    Returns a ``PIL.Image`` when ``image`` is one, else a uint8 array of shape (H, W, 3).
    """
    if isinstance(box_or_region, np.ndarray):
        box_or_region = box_or_region.tolist() if box_or_region.ndim > 1 else box_or_region
    single = _is_single_region(box_or_region)
    regions: List[Any] = [box_or_region] if single else list(box_or_region)
    if single and (points is not None or label is not None):
        r = regions[0]
        r = dict(r) if isinstance(r, Mapping) else {"box": r}
        if points is not None:
            r["points"] = [list(p) for p in points]
        if label is not None:
            r["label"] = label
        regions = [r]
    out = _native.render(
        _image_arg(image), _dumps(regions), str(cue), box_format=box_format, many=not single
    )
    if _is_pil(image):
        from PIL import Image

        images = [Image.frombytes("RGB", (w, h), bytes(data)) for data, w, h in out]
    else:
        images = [_to_array((data, h, w)) for data, w, h in out]
    return images[0] if single else images


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Scores:
    """Image-text scores, each an ``images x texts`` float32 array."""

    cosine: np.ndarray
    logit: np.ndarray
    probability: np.ndarray


class Model:
    """A model loaded as ``cuelab embed`` / ``cuelab score`` load it.

    ``name_or_dir``: a Hugging Face id (looked up in the local hub cache, never downloaded) or a
    checkpoint directory: CLIP ViT / ResNet / open_clip and SigLIP (images and texts), DINOv2
    (images). ``dtype``: ``f32``, ``bf16`` or ``f16`` (weights and matrix products; embeddings
    are float32). ``preprocess``: ``openai`` or ``hf`` (default: the checkpoint layout's).
    """

    def __init__(
        self,
        name_or_dir: PathLike,
        dtype: str = "f32",
        preprocess: Optional[str] = None,
        device: str = "cpu",
    ) -> None:
        self._m = _native.Model(os.fspath(name_or_dir), dtype, preprocess, device)

    @property
    def id(self) -> str:
        """Architecture, name and a prefix of the weights' SHA-256 (and a non-f32 dtype)."""
        return self._m.id

    @property
    def embed_dim(self) -> int:
        return self._m.embed_dim

    @property
    def dtype(self) -> str:
        return self._m.dtype

    @property
    def preprocess(self) -> str:
        """The image preprocessing key, e.g. ``openai/224``."""
        return self._m.preprocess

    @property
    def has_text(self) -> bool:
        """True when the model embeds texts (and scores)."""
        return self._m.has_text

    @property
    def logit_scale(self) -> Optional[float]:
        return self._m.logit_scale

    @property
    def logit_bias(self) -> Optional[float]:
        return self._m.logit_bias

    def embed_images(
        self, images: Union[ImageLike, Sequence[ImageLike]], normalize: bool = False
    ) -> np.ndarray:
        """Embeddings of ``images``: a float32 array ``(len(images), embed_dim)``."""
        return _matrix(self._m.embed_images(_images_arg(images), normalize))

    def embed_texts(self, texts: Union[str, Sequence[str]], normalize: bool = False) -> np.ndarray:
        """Embeddings of ``texts``: a float32 array ``(len(texts), embed_dim)``."""
        if isinstance(texts, str):
            texts = [texts]
        return _matrix(self._m.embed_texts(list(texts), normalize))

    def score(
        self, images: Union[ImageLike, Sequence[ImageLike]], texts: Union[str, Sequence[str]]
    ) -> Scores:
        """Cosine, logit and probability (softmax over the texts for CLIP, sigmoid per pair for
        SigLIP) of every image against every text, as ``cuelab score`` computes them."""
        if isinstance(texts, str):
            texts = [texts]
        cos, logit, prob = self._m.score(_images_arg(images), list(texts))
        return Scores(_matrix(cos), _matrix(logit), _matrix(prob))

    def __repr__(self) -> str:
        return repr(self._m)


# --------------------------------------------------------------------------- caption metrics


def _captions_arg(captions: Any) -> Any:
    """Captions as the extension takes them: a file path, or a JSON document (bytes)."""
    if isinstance(captions, (str, os.PathLike)):
        return os.fspath(captions)
    if isinstance(captions, bytes):
        return captions
    return _dumps(captions).encode()


def _per_image(rows: List[Dict[str, Any]], columns: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"image_id": [str(r["image_id"]) for r in rows]}
    for name, get in columns.items():
        out[name] = np.array([get(r) for r in rows], dtype=np.float64)
    return out


def caption_metrics(refs: Any, cands: Any) -> Dict[str, Any]:
    """CIDEr-D, BLEU-1..4 and ROUGE-L (identical to pycocoevalcap) of ``cands`` against
    ``refs``, as ``cuelab caption-eval`` computes them.

    ``refs``: ``{image_id: [captions]}``, a COCO captions dict, or a path to such a JSON file;
    ``cands``: ``{image_id: caption}``, a COCO results list, or a path. Returns the corpus scores
    (``cider_d``, ``bleu`` (4 values), ``rouge_l``, ``images``), what was ``skipped`` and why,
    ``empty_candidates`` / ``empty_references``, and ``per_image``: ``image_id`` (list) and
    float64 arrays ``cider_d``, ``bleu_1`` .. ``bleu_4``, ``rouge_l`` in image-id order.
    """
    out = json.loads(_native.caption_metrics(_captions_arg(refs), _captions_arg(cands)))
    columns = {"cider_d": lambda r: r["cider_d"], "rouge_l": lambda r: r["rouge_l"]}
    for k in range(4):
        columns[f"bleu_{k + 1}"] = lambda r, k=k: r["bleu"][k]
    out["per_image"] = _per_image(out["per_image"], columns)
    return out


def clipscore(
    refs: Any,
    cands: Any,
    images: PathLike,
    model: PathLike = DEFAULT_CLIP,
    *,
    prefix: str = CLIPSCORE_PREFIX,
    w: float = CLIPSCORE_W,
    preprocess: str = "openai",
) -> Dict[str, Any]:
    """CLIPScore and RefCLIPScore (Hessel et al. 2021) of ``cands`` over the image folder
    ``images`` (files found by id: ``ID.jpg``, ``ID.png``, COCO ``..._000000ID.jpg``), as
    ``cuelab caption-eval --images`` computes them. Returns the means ``clip_score`` and
    ``ref_clip_score``, ``skipped``, and ``per_image`` (``image_id``, ``image`` lists and float64
    arrays ``clip_score``, ``ref_clip_score``)."""
    out = json.loads(
        _native.clipscore(
            _captions_arg(refs),
            _captions_arg(cands),
            os.fspath(images),
            os.fspath(model),
            prefix,
            float(w),
            preprocess,
        )
    )
    rows = out["per_image"]
    per = _per_image(
        rows,
        {"clip_score": lambda r: r["clip_score"], "ref_clip_score": lambda r: r["ref_clip_score"]},
    )
    per["image"] = [r["image"] for r in rows]
    out["per_image"] = per
    return out


# --------------------------------------------------------------------------- runs


def _column(values: List[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed kinds in one field (rare): keep each value as its JSON text.
        return pa.array([None if v is None else json.dumps(v) for v in values], type=pa.string())


def _to_arrow(records: List[Dict[str, Any]]) -> Any:
    try:
        import pyarrow as pa
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Run.rows needs pyarrow (pip install pyarrow); Run.records has the rows as dicts"
        ) from e
    names: Dict[str, None] = {}
    for r in records:
        for k in r:
            names.setdefault(k, None)
    return pa.table({k: _column([r.get(k) for r in records]) for k in names})


class Run:
    """A run directory read back: ``manifest``, ``summary`` (``summary.json``; ``None`` until the
    run finished), ``summary_text`` (the table the CLI prints), ``records`` (``results.jsonl``
    rows as dicts, sorted by key) and ``rows`` (the same as a pyarrow Table)."""

    def __init__(self, directory: PathLike, extra: Optional[Dict[str, Any]] = None) -> None:
        self.dir = pathlib.Path(directory)
        manifest, summary, summary_text, rows = _native.read_run(os.fspath(directory))
        self.manifest: Dict[str, Any] = json.loads(manifest)
        self.summary: Optional[Dict[str, Any]] = None if summary is None else json.loads(summary)
        self.summary_text: Optional[str] = summary_text
        self.records: List[Dict[str, Any]] = [json.loads(r) for r in rows]
        #: For :func:`ask`: ``missing`` (still unanswered), ``not_asked`` (samples that could not
        #: be asked, with the reason) and ``malformed_lines``; empty otherwise.
        self.info: Dict[str, Any] = extra or {}
        self._rows: Any = None

    @property
    def kind(self) -> str:
        """The experiment kind (``grounding``, ``vqa``, ...), from the manifest."""
        return str(self.manifest.get("experiment", ""))

    @property
    def rows(self) -> Any:
        """The result rows as a ``pyarrow.Table`` (one column per field)."""
        if self._rows is None:
            self._rows = _to_arrow(self.records)
        return self._rows

    def to_pandas(self) -> Any:
        """The result rows as a ``pandas.DataFrame`` (needs pandas and pyarrow)."""
        return self.rows.to_pandas()

    def __repr__(self) -> str:
        state = "finished" if self.summary is not None else "unfinished"
        return f"Run({str(self.dir)!r}, kind={self.kind!r}, rows={len(self.records)}, {state})"


def load_run(directory: PathLike) -> Run:
    """Read any run directory (grounding, questions, merged shards, ...)."""
    return Run(directory)


def _config_args(config: Any) -> Dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return {"config_json": _dumps(dict(config))}
    if isinstance(config, os.PathLike):
        return {"config_file": os.fspath(config)}
    if isinstance(config, str):
        if "\n" not in config and "=" not in config:
            return {"config_file": config}
        return {"config_toml": config}
    raise TypeError(
        f"config: expected a dict, TOML text or a TOML file path, got {type(config).__name__}"
    )


def ground(
    config: Any = None,
    *,
    out: PathLike,
    data: Optional[PathLike] = None,
    models: Optional[Sequence[PathLike]] = None,
    split: Optional[str] = None,
    images: Optional[PathLike] = None,
    preprocess: str = "openai",
    device: str = "cpu",
    shard: Optional[str] = None,
    cache: bool = True,
    progress: bool = False,
    proposals: Optional[PathLike] = None,
    proposals_format: str = "xyxy",
    min_score: float = 0.0,
    detector: Optional[str] = None,
    detector_options: Optional[Mapping[str, Any]] = None,
    limit: Optional[int] = None,
    seed: Optional[int] = None,
) -> Run:
    """Run seed 004's grounding experiment (``cuelab ground``) into the run directory ``out``
    (resumed when it exists) and return it as a :class:`Run`.

    ``config``: the experiment as a dict, TOML text or a TOML file path (the fields of
    ``cuelab ground --config``: ``models``, ``method``, ``cues``, ``template``, ``debias``, ...);
    a dict may also carry ``data``, ``split`` and ``images``. Keyword arguments override it, as
    flags override the file. ``data``: a JSONL file (``cuelab scenes``' ``samples.jsonl``, flat
    grounding rows) or a RefCOCO folder / ``refs(...).p`` file.
    """
    if isinstance(config, Mapping):
        config = dict(config)
        data = data if data is not None else config.pop("data", None)
        split = split if split is not None else config.pop("split", None)
        images = images if images is not None else config.pop("images", None)
        for key in ("data", "split", "images"):
            config.pop(key, None)
    if data is None:
        raise TypeError("ground() needs data= (a samples file or a RefCOCO folder)")
    _native.ground(
        data=os.fspath(data),
        out=os.fspath(out),
        models=None if models is None else [os.fspath(m) for m in models],
        split=split,
        images=None if images is None else os.fspath(images),
        preprocess=preprocess,
        device=device,
        shard=shard,
        cache=cache,
        progress=progress,
        proposals=None if proposals is None else os.fspath(proposals),
        proposals_format=proposals_format,
        min_score=float(min_score),
        detector=detector,
        detector_options=None if detector_options is None else _dumps(dict(detector_options)),
        limit=limit,
        seed=seed,
        **_config_args(config),
    )
    return load_run(out)


def ask(
    data: PathLike,
    *,
    out: PathLike,
    cues: Optional[Sequence[Union[str, Recipe]]] = None,
    clip: Optional[PathLike] = None,
    clip_prefix: str = "",
    local: Optional[PathLike] = None,
    adapter: Optional[PathLike] = None,
    max_new_tokens: int = 16,
    local_video_fps: Optional[float] = None,
    endpoint: Union[None, str, Sequence[str]] = None,
    model: Optional[str] = None,
    mode: Optional[str] = None,
    backend: Optional[Mapping[str, Any]] = None,
    config: Any = None,
    order: Optional[str] = None,
    system: Optional[str] = None,
    limit: Optional[int] = None,
    seed: Optional[int] = None,
    tasks: Optional[Sequence[str]] = None,
    qtypes: Optional[Sequence[str]] = None,
    preprocess: str = "openai",
    device: str = "cpu",
    shard: Optional[str] = None,
    cache: bool = True,
    skip_bad: bool = False,
    progress: bool = False,
) -> Run:
    """Ask the multiple-choice, video and counting questions of ``data`` (cuelab's JSONL) under
    each cue variant (``cuelab ask``) into the run directory ``out`` (resumed when it exists).

    The answering model: ``clip=MODEL`` (the option most similar to the image wins),
    ``local=QWEN3_VL_DIR`` (in-process; ``local_video_fps=F`` gives each clip's frames to it as
    one video playing at F frames per second, ``--video-input video``), or ``endpoint=URL`` + ``model=NAME`` (an
    OpenAI-compatible server; ``mode``, and any field of ``--backend-config`` in ``backend``).
    ``config``: the question-answering configuration (dict, TOML text or file); ``cues``,
    ``order``, ``system``, ``limit`` and ``seed`` override it. The returned run's ``info`` says
    what is still ``missing`` and which samples were ``not_asked``.
    """
    if sum(x is not None for x in (clip, local, endpoint)) > 1:
        raise ValueError("give one of clip=, local= or endpoint=")
    if clip is not None:
        desc: Dict[str, Any] = {
            "kind": "clip",
            "model": os.fspath(clip),
            "prefix": clip_prefix,
            "preprocess": preprocess,
            "device": device,
        }
    elif local is not None:
        desc = {
            "kind": "local",
            "model": os.fspath(local),
            "adapter": None if adapter is None else os.fspath(adapter),
            "max_new_tokens": max_new_tokens,
            "device": device,
            "video_fps": local_video_fps,
        }
    else:
        remote = dict(backend or {})
        if endpoint is not None:
            remote["endpoints"] = [endpoint] if isinstance(endpoint, str) else list(endpoint)
        if model is not None:
            remote["model"] = model
        if mode is not None:
            remote["mode"] = mode
        desc = {"kind": "remote", "config": remote, "cache": cache}
    extra = json.loads(
        _native.ask(
            data=os.fspath(data),
            out=os.fspath(out),
            backend_json=_dumps(desc),
            cues=None if cues is None else [str(c) for c in cues],
            order=order,
            system=system,
            limit=limit,
            seed=seed,
            tasks=None if tasks is None else list(tasks),
            qtypes=None if qtypes is None else list(qtypes),
            skip_bad=skip_bad,
            shard=shard,
            progress=progress,
            **_config_args(config),
        )
    )
    return Run(out, extra)


def scenes(
    out: PathLike,
    *,
    seed: int = 1,
    n: int = 200,
    pairs: Optional[int] = None,
    clips: Optional[int] = None,
    frames: int = 8,
    size: int = 256,
) -> pathlib.Path:
    """Write ``cuelab scenes``' deterministic synthetic dataset (grounding, counting, MCQ,
    MMVP-style pairs, clips, captions; every dataset format) into ``out``; returns the path of
    its ``samples.jsonl``."""
    return pathlib.Path(
        _native.scenes(
            os.fspath(out), seed=seed, n=n, pairs=pairs, clips=clips, frames=frames, size=size
        )
    )
