#!/usr/bin/env python3
"""Write the SSv2-format video fixture `crates/cuelab-data/tests/data/ssv2_clips/`.

A few tiny synthetic clips (96x72, 12 frames at 12 fps: a coloured object moved by a "hand"
blob), drawn with Pillow and encoded by the system ffmpeg as VP9 `.webm` (as SSv2 ships) and
H.264 `.mp4`, with the dataset's files around them:

- `labels.json`: template -> class id (more templates than videos: the verb vocabulary);
- `train.json`, `validation.json`: `{id, label, template, placeholders}` as SSv2 writes them, with
  the objects spelled as real annotators do (articles, case: "a cup" / "Cup" / "the red ball");
  `validation.json` also holds one template missing from `labels.json` and one video whose file
  does not exist (both must be reported as skipped, not crash the build);
- `boxes.json`: Something-Else boxes (`{id: [{name: "<id>/0001.jpg", labels: [{box2d, category,
  standard_category}], gt_placeholders, nr_instances}]}`) for every frame except a few left out
  on purpose (interpolation fills them);
- `expected.json`: per video the frame count, fps, size, and for every frame the exact box of
  the object and its RGB colour (what a decoder must show at the box centre, up to codec loss);
- `corrupt/truncated.webm` (the first 200 bytes of a clip) and `corrupt/not_a_video.mp4` (text).

Run: /opt/refenv/bin/python tools/reference/video/make_fixtures.py   (needs ffmpeg on PATH with
libvpx-vp9 and libx264; `bash tools/ci/install-ffmpeg.sh`). The encodes use -bitexact, so the
files only change when ffmpeg's encoders do.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from PIL import Image, ImageDraw

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "crates", "cuelab-data", "tests", "data", "ssv2_clips")
W, H, N, FPS = 96, 72, 12, 12

TEMPLATES = [
    "Dropping [something] into [something]",
    "[Something] falling like a rock",
    "Pushing [something] from left to right",
    "Pushing [something] from right to left",
    "Lifting [something] up",
    "Moving [something] down",
    "Putting [something] on a surface",
    "Tipping [something] over",
]

# id, template index, placeholders, motion (dx, dy per frame), colour, container, frames
# without boxes, extension
CLIPS = [
    ("1001", 2, ["a cup"], (4, 0), (220, 40, 40), ".webm", [3, 4]),
    ("1002", 3, ["Cup"], (-4, 0), (40, 90, 220), ".webm", [6]),
    ("1003", 1, ["the red ball"], (0, 3), (230, 30, 30), ".mp4", []),
    ("1004", 4, ["thermos bottle"], (0, -3), (30, 170, 60), ".webm", [1, 2, 3]),
    ("1005", 0, ["a cheese cube", "red rubber ice-tray"], (0, 2), (240, 200, 40), ".mp4", [5]),
    ("1006", 5, ["pen"], (0, 3), (150, 60, 200), ".webm", []),
    ("1007", 6, ["salt shaker"], (3, 0), (250, 140, 20), ".mp4", [2, 9]),
]
TRAIN = ["1001", "1002", "1003", "1004", "1005"]
VALID = ["1006", "1007"]
HAND = (230, 190, 160)
TRAY = (200, 60, 60)


def norm(t):
    return t.replace("[", "").replace("]", "")


def fill(template, placeholders):
    out = template
    for p in placeholders:
        i = out.index("[")
        j = out.index("]", i)
        out = out[:i] + p + out[j + 1:]
    return out


def frames_of(clip):
    vid, _t, places, (dx, dy), colour, _ext, _gaps = clip
    x0, y0 = (24 if dx >= 0 else 64), (12 if dy >= 0 else 48)
    if dx < 0:
        x0 = 70
    out = []
    for f in range(N):
        img = Image.new("RGB", (W, H), (235, 235, 228))
        d = ImageDraw.Draw(img)
        d.rectangle([0, 60, W - 1, H - 1], fill=(120, 110, 100))  # table edge
        boxes = []
        if len(places) == 2:  # the container of "dropping X into Y"
            tray = [30, 48, 70, 60]
            d.rectangle([tray[0], tray[1], tray[2] - 1, tray[3] - 1], fill=TRAY)
            boxes.append((places[1], tray, "0001"))
        x, y = x0 + dx * f, y0 + dy * f
        obj = [x, y, x + 14, y + 12]
        d.rectangle([obj[0], obj[1], obj[2] - 1, obj[3] - 1], fill=colour)
        boxes.insert(0, (places[0], obj, "0000"))
        hand = [obj[0] - 6, obj[1] - 8, obj[0] + 6, obj[1] + 2]
        d.ellipse([hand[0], hand[1], hand[2] - 1, hand[3] - 1], fill=HAND)
        boxes.append(("hand", hand, "hand"))
        out.append((img, boxes, obj))
    return out


def main():
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg not found: bash tools/ci/install-ffmpeg.sh")
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(os.path.join(OUT, "videos"))
    os.makedirs(os.path.join(OUT, "corrupt"))
    labels = {norm(t): str(i) for i, t in enumerate(TEMPLATES)}
    entries = {}
    boxes = {}
    expected = {}
    for clip in CLIPS:
        vid, t, places, _m, colour, ext, gaps = clip
        template = TEMPLATES[t]
        entries[vid] = {
            "id": vid,
            "label": fill(template, places),
            "template": template,
            "placeholders": places,
        }
        frames = frames_of(clip)
        tmp = tempfile.mkdtemp()
        try:
            for f, (img, _b, _o) in enumerate(frames):
                img.save(os.path.join(tmp, "%04d.png" % (f + 1)))
            dst = os.path.join(OUT, "videos", vid + ext)
            codec = (
                ["-c:v", "libvpx-vp9", "-crf", "20", "-b:v", "0", "-deadline", "good", "-cpu-used", "4"]
                if ext == ".webm"
                else ["-c:v", "libx264", "-crf", "16", "-preset", "medium", "-tune", "stillimage"]
            )
            cmd = (
                ["ffmpeg", "-v", "error", "-y", "-framerate", str(FPS), "-i", os.path.join(tmp, "%04d.png")]
                + codec
                + ["-pix_fmt", "yuv420p", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", dst]
            )
            subprocess.run(cmd, check=True)
        finally:
            shutil.rmtree(tmp)
        per_frame = []
        for f, (_img, bxs, _o) in enumerate(frames):
            if f in gaps:
                continue
            per_frame.append(
                {
                    "name": "%s/%04d.jpg" % (vid, f + 1),
                    "labels": [
                        {
                            "box2d": {"x1": float(b[0]), "y1": float(b[1]), "x2": float(b[2]), "y2": float(b[3])},
                            "category": name,
                            "standard_category": std,
                        }
                        for name, b, std in bxs
                    ],
                    "gt_placeholders": places,
                    "nr_instances": len(bxs),
                }
            )
        boxes[vid] = per_frame
        expected[vid] = {
            "file": "videos/" + vid + ext,
            "frames": N,
            "fps": FPS,
            "width": W,
            "height": H,
            "colour": list(colour),
            "object_boxes": [o for (_i, _b, o) in frames],
            "frames_without_boxes": gaps,
        }
    train = [entries[i] for i in TRAIN]
    valid = [entries[i] for i in VALID]
    # Bad records the builder must report and skip.
    valid.append(
        {"id": "1098", "label": "juggling three oranges", "template": "Juggling [something]", "placeholders": ["three oranges"]}
    )
    valid.append(
        {"id": "1099", "label": "tipping a mug over", "template": "Tipping [something] over", "placeholders": ["a mug"]}
    )

    def dump(name, obj):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")

    dump("labels.json", labels)
    dump("train.json", train)
    dump("validation.json", valid)
    dump("boxes.json", boxes)
    dump("expected.json", expected)
    # 1098's file exists (its template is what is wrong); 1099's does not.
    shutil.copy(os.path.join(OUT, "videos", "1006.webm"), os.path.join(OUT, "videos", "1098.webm"))
    with open(os.path.join(OUT, "videos", "1001.webm"), "rb") as f:
        head = f.read(200)
    with open(os.path.join(OUT, "corrupt", "truncated.webm"), "wb") as f:
        f.write(head)
    with open(os.path.join(OUT, "corrupt", "not_a_video.mp4"), "w") as f:
        f.write("this is not a video\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _d, fs in os.walk(OUT) for fn in fs)
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
