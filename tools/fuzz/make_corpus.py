"""Build the seed corpora of crates/cuelab-fuzz (small, committed) from the repository's own
fixtures plus a few hand-written cases. Only the standard library is needed.

Run from the repository root: python3 tools/fuzz/make_corpus.py
"""
import io
import json
import shutil
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/cuelab-fuzz/corpus"
DATA = ROOT / "crates/cuelab-data/tests/data"
MODELS = ROOT / "crates/cuelab-models/tests/data"
CUE = ROOT / "crates/cuelab-cue/tests/fixtures"


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def copy(target, src, name=None):
    put(target, name or src.name, src.read_bytes())


def png(w, h, rgb):
    raw = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def safetensors(tensors):
    header, blobs, off = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    specs = ["plain", "ellipse(color=red,width=3)+blur(radius=20)+gray", "rect(color=#ff0000,width=2)",
             "rounded(color=yellow,width=4,corner=16)", "dim(amount=0.6)+label(text=auto,size=24)",
             "fill(color=black,alpha=0.5)", "colorcode", "tint(alpha=0.5)", "crop(context=0.1)",
             "arrow(from=top-right)+dot(radius=8)", "trajectory(color=cyan,width=4,fade=true)",
             "mask(color=magenta,alpha=0.35)"]
    for i, s in enumerate(specs):
        put("cue_spec", f"{i:02}.txt", s)
    for i, s in enumerate(["120,210,320,540", "0,0,1,1", "10.5, 20.25, 30, 40", "1e3,2,3e3,4"]):
        put("box", f"{i}.txt", s)
    for i, s in enumerate(["61X13N2O1N2O1N3M2N1O1N2N1O1O1M3N2M3N1O1N2O0O1N3M2N2N1O1N1O1O0",
                           "0", "52", "PP0"]):
        put("rle", f"{i}.txt", s)
    regions = [{"box": {"x0": 1, "y0": 2, "x1": 30, "y1": 40}},
               {"polygon": [[1, 1, 20, 1, 20, 30, 1, 30]]},
               {"mask": {"height": 3, "width": 3, "counts": [1, 2, 6]}}]
    for i, r in enumerate(regions):
        put("region_json", f"{i}.json", json.dumps(r))
    for f in ["dot_src.png", "mode_p.png", "mode_l.png", "exif_rot6.jpg", "expected_exif_rot6.png"]:
        copy("image", CUE / f)
    put("image", "rgb.png", png(5, 3, (200, 30, 40)))
    copy("jsonl", DATA / "bad/samples.jsonl")
    put("jsonl", "good.jsonl", json.dumps({"id": "a", "task": "grounding", "image": "x.jpg",
                                           "expressions": [{"raw": "the dog", "sent": "the dog"}],
                                           "target": {"box": {"x0": 1, "y0": 2, "x1": 3, "y1": 4}}}) + "\n")
    for f in ["instances.json"]:
        copy("coco_instances", DATA / "refcocog" / f)
    copy("coco_captions", DATA / "coco/captions_val2014.json")
    copy("karpathy", DATA / "coco/dataset_coco.json")
    copy("caption_results", DATA / "coco/results.json")
    copy("mmvp", DATA / "mmvp/Questions.csv")
    copy("mmvp_vlm", DATA / "mmvp_vlm/Questions.csv")
    # Regression: Question ID 0 made the pair-partner arithmetic underflow (found by a 15,000-input run).
    header = (DATA / "mmvp_vlm/Questions.csv").read_text().splitlines()[0]
    put("mmvp_vlm", "id0.csv", header + "\n0,Orientation,a dog facing left\n1,Orientation,a dog facing right\n")
    copy("ssv2_labels", DATA / "ssv2/labels.json")
    copy("refcoco_pickle", DATA / "refcocog/refs(umd).p", "refs_p0.p")
    copy("refcoco_pickle", DATA / "refcocog/refs(umd)_p2.p", "refs_p2.p")
    copy("refcoco_pickle", DATA / "refcocog/refs(umd)_p4.p", "refs_p4.p")
    put("grounding_toml", "grid.toml",
        'models = ["m"]\nmethod = ["baseline", "redcircle"]\ndebias = 20\nseed = 3\n'
        'cue = ["ellipse(color=red,width={w})+blur(radius=20)"]\n[sweep]\nw = [1, 3]\n')
    put("grounding_toml", "plain.toml", 'models = ["a", "b"]\nmethod = "redcircle"\n')
    # The other run kinds' TOML files: ask/mmvp (--config), caption (--config), remote backends
    # (--backend-config).
    put("run_toml", "ask.toml",
        'cues = ["plain", "ellipse(color=red,width=3)"]\norder = "balanced"\nseed = 7\n'
        'system = "Answer briefly."\ncount_suffix = " A number."\nlimit = 20\nbatch = 8\n'
        'frames = "frames=4"\n')
    put("run_toml", "caption.toml",
        'prompts = ["Describe the image.", "What is in the {box}?"]\n'
        'gens = ["greedy", "beam=3,length_penalty=1.0", "temperature=0.7,top_p=0.9,seed=1"]\n'
        'cues = ["plain", "rect(color=#ff0000,width=2)"]\nseed = 1\nresamples = 200\n'
        'clip = "openai/clip-vit-base-patch32"\n[attention]\nimages = 2\nlayers = [0, 3]\n'
        'heads = [1]\nrollout = true\n')
    put("run_toml", "probe_count.toml",
        'variants = ["plain", "som", "boxes", "crops"]\nquestions = ["count", "list"]\n'
        'count_template = "How many {plural} are there?"\ncount_choices = 4\nseed = 2\nbatch = 16\n')
    put("run_toml", "probe_preprocess.toml",
        'transforms = ["identity", "resize(0.5)", "budget(max=50176,factor=28)", "shift(7)",'
        ' "rotate(5)", "pad-square", "crop-square", "jpeg(30)"]\nquestions = ["count"]\nlimit = 3\n')
    put("run_toml", "probe_boxtool.toml",
        'format = "qwen25"\nschema = false\ncrops = true\nresize_factor = 28\nmin_pixels = 3136\n'
        'max_pixels = 1003520\niou = 0.5\nmax_turns = 3\nfollowup = "Found {found} {plural}."\n')
    put("run_toml", "backend.toml",
        'endpoints = ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8001/v1"]\nmodel = "qwen"\n'
        'mode = "logprobs"\nconcurrency = 4\ntimeout_s = 30.5\nretries = 2\njpeg_quality = 90\n'
        'image_format = "jpeg"\nmax_pixels = 1003520\ntop_logprobs = 5\nvideo_input = "video_url"\n'
        '[generation]\ntemperature = 0.0\nmax_tokens = 16\nseed = 3\n'
        '[template]\nchoice_list = "{question} Options: {options}"\n'
        'lettered = "{question}\\n{options}\\nAnswer with a letter."\n')
    for d in ["clip-vit-tiny", "siglip-tiny", "dinov2-tiny"]:
        copy("config_json", MODELS / d / "config.json", f"{d}.json")
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
    put("safetensors", "two.safetensors",
        safetensors({"a.weight": ("F32", [2, 2], f32), "b.bias": ("F32", [4], f32)}))
    put("safetensors", "empty.safetensors", safetensors({}))
    # Headers as the LoRA planner reads them (lora_shapes::safetensors_shapes): a small
    # Qwen3-VL-like checkpoint (two decoder layers, one vision block, every target), then broken
    # files: a truncated header, a header length past the end of the file, a header length over
    # the 100 MiB limit, a header that is JSON but not an object, garbage, and dimensions whose
    # sums and products overflow 64 bits.
    qwen = {}
    for layer in range(2):
        pre = f"model.language_model.layers.{layer}."
        for m, shape in [("self_attn.q_proj", [8, 4]), ("self_attn.k_proj", [4, 4]),
                         ("self_attn.v_proj", [4, 4]), ("self_attn.o_proj", [4, 8]),
                         ("mlp.gate_proj", [6, 4]), ("mlp.up_proj", [6, 4]), ("mlp.down_proj", [4, 6])]:
            qwen[pre + m + ".weight"] = ("BF16", shape, bytes(2 * shape[0] * shape[1]))
        qwen[pre + "input_layernorm.weight"] = ("BF16", [4], bytes(8))
    for m, shape in [("attn.qkv", [12, 4]), ("attn.proj", [4, 4]), ("mlp.linear_fc1", [8, 4]),
                     ("mlp.linear_fc2", [4, 8])]:
        qwen["model.visual.blocks.0." + m + ".weight"] = ("BF16", shape, bytes(2 * shape[0] * shape[1]))
    qwen["model.visual.merger.linear_fc1.weight"] = ("BF16", [4, 16], bytes(128))
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, (dtype, shape, data) in qwen.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    valid = struct.pack("<Q", len(h)) + h + b"".join(blobs)
    put("lora_header", "qwen3_vl.safetensors", valid)
    put("lora_header", "truncated.safetensors", valid[: 8 + len(h) // 2])
    put("lora_header", "past_end.safetensors", struct.pack("<Q", len(valid)) + valid[8:])
    put("lora_header", "oversized.safetensors", struct.pack("<Q", (100 << 20) + 1) + valid[8:])
    put("lora_header", "not_object.safetensors", struct.pack("<Q", 6) + b"[1, 2]")
    put("lora_header", "garbage.bin", bytes((i * 37 + 11) % 256 for i in range(64)))
    huge = {"model.language_model.layers.0.self_attn.q_proj.weight":
            {"dtype": "F32", "shape": [1, 18446744073709551615], "data_offsets": [0, 0]},
            "model.visual.blocks.0.attn.qkv.weight":
            {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}
    h = json.dumps(huge).encode()
    put("lora_header", "huge_dims.safetensors", struct.pack("<Q", len(h)) + h)
    for i, t in enumerate(["A man riding a horse.", "  two  DOGS &amp; a cat!!  ", "", "日本語のテキスト",
                           "<|startoftext|>hello<|endoftext|>", "a" * 300]):
        put("text", f"{i}.txt", t)
    for f in (MODELS / "spiece-variants").glob("*.model"):
        copy("spiece", f)


if __name__ == "__main__":
    main()
