#!/usr/bin/env python3
"""Check `cuelab export-sft` with the `datasets` library and write the expected outputs.

Writes the input `crates/cuelab/tests/data/sft/input.jsonl` (two clip questions over the SSv2
clip fixture with their Something-Else boxes, an image question with a target box, a counting
question, a caption, and a caption sample without text that must be skipped) and a tiny image,
runs `cuelab export-sft` for each format (plain + a cued variant, 4 frames per clip) into a
temporary folder, and checks every export the way a trainer would read it:

- `datasets.load_dataset("json", data_files=...)` loads the data file (LLaMA-Factory's
  `data.json` through its `dataset_info.json` entry: file name, `sharegpt` formatting, columns,
  tags);
- every row is one user and one assistant turn; the number of `<image>`/`<video>` tags equals
  the number of listed images/videos (LLaMA-Factory and ms-swift refuse rows where they differ);
  chat `messages` rows carry typed `image`/`video` parts;
- every media file exists and opens (Pillow for PNG, ffprobe for MP4: 4 frames);
- the assistant's answer is one of the options shown in the user text.

The data files (not the media) are then copied to `crates/cuelab/tests/data/sft/<format>/` as
the expected outputs the Rust test compares byte for byte.

Run: /opt/refenv/bin/python tools/reference/video/check_sft.py --cuelab target/debug/cuelab
(needs `pip install datasets` and ffmpeg).
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile

import datasets
from PIL import Image, ImageDraw

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "crates", "cuelab", "tests", "data", "sft")
CLIPS = os.path.join(ROOT, "crates", "cuelab-data", "tests", "data", "ssv2_clips")
CUE = "trajectory(fade=true)+rect(color=red,width=2)"


def frame_boxes(vid):
    with open(os.path.join(CLIPS, "boxes.json")) as f:
        boxes = json.load(f)[vid]
    out = []
    for fr in boxes:
        n = int(fr["name"].split("/")[-1].split(".")[0]) - 1
        out.append(
            {
                "frame": n,
                "boxes": [
                    {
                        "label": l["category"],
                        "box": {"x0": l["box2d"]["x1"], "y0": l["box2d"]["y1"], "x1": l["box2d"]["x2"], "y1": l["box2d"]["y2"]},
                    }
                    for l in fr["labels"]
                ],
            }
        )
    return out


def write_input():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    img = Image.new("RGB", (64, 48), (128, 128, 128))
    ImageDraw.Draw(img).rectangle([20, 12, 39, 31], fill=(220, 30, 30))
    img.save(os.path.join(OUT, "images", "square.png"))
    clips = "../../../../cuelab-data/tests/data/ssv2_clips/videos/"
    rows = [
        {
            "id": "ssv2-1005-object1", "dataset": "ssv2", "task": "video", "split": "train",
            "video": clips + "1005.mp4", "question": "dropping _____ into red rubber ice-tray",
            "choices": ["pen", "a cheese cube", "salt shaker", "Cup"], "answer": "a cheese cube",
            "answer_index": 1, "qtype": "object", "frame_boxes": frame_boxes("1005"),
        },
        {
            "id": "ssv2-1001-verb", "dataset": "ssv2", "task": "video", "split": "train",
            "video": clips + "1001.webm", "question": "_____ a cup from left to right",
            "choices": ["lifting", "tipping", "pushing", "falling"], "answer": "pushing",
            "answer_index": 2, "qtype": "verb", "frame_boxes": frame_boxes("1001"),
        },
        {
            "id": "img-colour", "dataset": "t", "task": "multiple_choice", "split": "train",
            "image": "images/square.png", "question": "What colour is the square?",
            "choices": ["blue", "red", "green"], "answer": "red", "qtype": "colour",
            "target": {"x0": 20.0, "y0": 12.0, "x1": 40.0, "y1": 32.0},
        },
        {
            "id": "img-count", "dataset": "t", "task": "counting", "split": "train",
            "image": "images/square.png", "question": "How many squares are there?", "answer": "1",
        },
        {
            "id": "img-caption", "dataset": "t", "task": "caption", "split": "train",
            "image": "images/square.png", "captions": ["  ", "A red square on a grey background."],
        },
        {"id": "img-nocaption", "dataset": "t", "task": "caption", "split": "train", "image": "images/square.png", "captions": [" "]},
    ]
    with open(os.path.join(OUT, "input.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def media_ok(base, path, is_video):
    p = os.path.join(base, path)
    assert os.path.isfile(p), p
    if is_video:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", p],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        assert out == "4", (p, out)
    else:
        Image.open(p).verify()


def answer_in_options(user, answer):
    if "\nOptions: " in user:
        options = user.split("\nOptions: ", 1)[1].split(", ")
        assert answer in options, (answer, options)


def check(fmt, d):
    rows = 0
    if fmt == "llamafactory":
        with open(os.path.join(d, "dataset_info.json")) as f:
            info = json.load(f)["cuelab_sft"]
        assert info["formatting"] == "sharegpt"
        ds = datasets.load_dataset("json", data_files=os.path.join(d, info["file_name"]), split="train")
        tags = info["tags"]
        for r in ds:
            msgs = r[info["columns"]["messages"]]
            assert [m[tags["role_tag"]] for m in msgs] == [tags["user_tag"], tags["assistant_tag"]]
            user = msgs[0][tags["content_tag"]]
            imgs, vids = r[info["columns"]["images"]] or [], r[info["columns"]["videos"]] or []
            assert user.count("<image>") == len(imgs) and user.count("<video>") == len(vids), r
            for p in imgs:
                media_ok(d, p, False)
            for p in vids:
                media_ok(d, p, True)
            answer_in_options(user.replace("<image>", "").replace("<video>", ""), msgs[1][tags["content_tag"]])
            rows += 1
    elif fmt == "swift":
        ds = datasets.load_dataset("json", data_files=os.path.join(d, "data.jsonl"), split="train")
        for r in ds:
            msgs = r["messages"]
            assert [m["role"] for m in msgs] == ["user", "assistant"]
            user = msgs[0]["content"]
            assert user.count("<image>") == len(r["images"]) and user.count("<video>") == len(r["videos"]), r
            for p in r["images"]:
                media_ok(d, p, False)
            for p in r["videos"]:
                media_ok(d, p, True)
            answer_in_options(user.replace("<image>", "").replace("<video>", ""), msgs[1]["content"])
            rows += 1
    else:
        ds = datasets.load_dataset("json", data_files=os.path.join(d, "data.jsonl"), split="train")
        for r in ds:
            msgs = r["messages"]
            assert [m["role"] for m in msgs] == ["user", "assistant"]
            parts = msgs[0]["content"]
            media = [p for p in parts if p["type"] in ("image", "video")]
            texts = [p["text"] for p in parts if p["type"] == "text"]
            assert len(media) == 1 and len(texts) == 1, parts
            media_ok(d, media[0]["path"], media[0]["type"] == "video")
            answer_in_options(texts[0], msgs[1]["content"][0]["text"])
            rows += 1
    return rows, ds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuelab", default=os.path.join(ROOT, "target", "debug", "cuelab"))
    args = ap.parse_args()
    write_input()
    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ["llamafactory", "swift", "messages"]:
            d = os.path.join(tmp, fmt)
            res = subprocess.run(
                [args.cuelab, "export-sft", "--data", os.path.join(OUT, "input.jsonl"), "--cue", "plain", "--cue", CUE,
                 "--frames", "frames=4", "--format", fmt, "-o", d],
                capture_output=True, text=True, env={**os.environ, "CUELAB_FRAME_CACHE": os.path.join(tmp, "cache")},
            )
            assert res.returncode == 1, res  # the caption without text is reported and skipped
            assert "img-nocaption" in res.stderr, res.stderr
            rows, ds = check(fmt, d)
            # plain: 2 clips + colour + count + caption; cued: 2 clips + colour (targets only)
            assert rows == 8, rows
            summary[fmt] = {"rows": rows, "features": str(ds.features)}
            dst = os.path.join(OUT, fmt)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            os.makedirs(dst)
            for name in ["data.json", "data.jsonl", "dataset_info.json", "index.jsonl"]:
                if os.path.isfile(os.path.join(d, name)):
                    shutil.copy(os.path.join(d, name), os.path.join(dst, name))
    with open(os.path.join(OUT, "checked.json"), "w") as f:
        json.dump({"datasets": datasets.__version__, "formats": summary}, f, indent=1)
        f.write("\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
