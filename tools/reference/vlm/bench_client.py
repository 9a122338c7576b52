"""Python side of the served-model client benchmark: what a seed-style client does per request
(draw the cue with Pillow, JPEG q90 4:4:4 + base64 + JSON body, POST with `http.client`, read
the answer), 64 requests in flight on threads, against the mock that
`crates/cuelab-vlm/examples/bench_remote.rs --python PY` starts (it runs this script itself).

Same images as the Rust `photo, unique cue per request` row: `assets/photos/dog.jpg` cropped to
640x480 with a 4-px red box at a place that depends on the request. Prints requests/s and this
process's CPU time per request (time.process_time over all threads).

    /opt/refenv/bin/python tools/reference/vlm/bench_client.py --url http://127.0.0.1:PORT/v1 --n 2000
"""

import argparse
import base64
import http.client
import io
import json
import os
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import PIL
from PIL import Image, ImageDraw

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--n", type=int, default=2000)
ap.add_argument("--inflight", type=int, default=64)
a = ap.parse_args()

root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
photo = Image.open(os.path.join(root, "assets", "photos", "dog.jpg")).convert("RGB")
photo = photo.crop((64, 48, 64 + 640, 48 + 480))
url = urllib.parse.urlparse(a.url)
local = threading.local()


def conn():
    c = getattr(local, "conn", None)
    if c is None:
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        local.conn = c
    return c


def ask(i):
    img = photo.copy()
    x0, y0 = (i * 37) % 440 + 20, (i * 53) % 280 + 20
    ImageDraw.Draw(img).rectangle((x0, y0, x0 + 159, y0 + 139), outline=(255, 0, 0), width=4)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, subsampling=0)
    data_url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    body = json.dumps(
        {
            "model": "mock",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": data_url}},
                        {"type": "text", "text": f"[{i}] What colour is the ball?\nred\ngreen\nblue"},
                    ],
                }
            ],
            "structured_outputs": {"choice": ["red", "green", "blue"]},
        }
    ).encode()
    c = conn()
    c.request("POST", url.path + "/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    answer = json.loads(r.read())
    return answer["choices"][0]["message"]["content"]


cpu0, t0 = time.process_time(), time.perf_counter()
with ThreadPoolExecutor(a.inflight) as pool:
    answers = list(pool.map(ask, range(a.n)))
wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
assert len(answers) == a.n and all(answers)
print(
    f"| Python {PIL.__version__ and 'Pillow ' + PIL.__version__} + http.client, 64 threads, "
    f"unique cue per request | {a.n} | {wall:.2f} | {a.n / wall:.0f} | {cpu * 1000 / a.n:.3f} | |"
)
