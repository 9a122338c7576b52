"""JPEG decoding fixtures: small JPEGs covering the cases a JPEG decoder meets, decoded by Pillow.

Run from the repository root:  /opt/refenv/bin/python tools/reference/cue/make_jpeg_fixtures.py
Writes crates/cuelab-cue/tests/fixtures/jpeg/{*.jpg, *.png, cases.json}.

The reference is what a Python pipeline sees: `Image.open(p)`, `ImageOps.exif_transpose`, then
`.convert("RGB")` (Pillow 11.0, whose wheels bundle libjpeg-turbo 3.0.4: integer "islow" IDCT,
fancy chroma upsampling, block smoothing). The Rust test (crates/cuelab-cue/tests/jpeg_parity.rs)
asserts that cuelab's decode equals it exactly (0 grey levels) and that files Pillow refuses
(truncated, corrupt headers) are refused with an error that names the file.

The JPEGs are encoded from crops of the repository's photos (assets/photos, Pillow-decoded):
Pillow writes baseline/progressive 4:4:4 / 4:2:2 / 4:2:0, grayscale, CMYK (Adobe, inverted),
restart markers and EXIF orientations; `simplejpeg` (libjpeg-turbo's TurboJPEG, pip install
simplejpeg) writes the subsamplings Pillow cannot (4:4:0, 4:1:1) and YCCK. Broken files are
derived from those bytes. The two full photos are used as they are (4:4:0, straight from their
source); their expected pixels are stored as a SHA-256 per row (a PNG of each would be ~1 MB).
"""

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageOps, features

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "crates" / "cuelab-cue" / "tests" / "fixtures" / "jpeg"
PHOTOS = ROOT / "assets" / "photos"


def pillow_decode(data: bytes) -> Image.Image:
    """The reference pipeline: open, exif_transpose, convert('RGB')."""
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im)
    return im.convert("RGB")


def encode(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def simple(img: Image.Image, subsampling: str, quality: int = 85, colorspace: str = "RGB") -> bytes:
    import simplejpeg

    arr = np.ascontiguousarray(np.asarray(img))
    return simplejpeg.encode_jpeg(arr, quality=quality, colorspace=colorspace, colorsubsampling=subsampling)


def sof_info(data: bytes):
    """(progressive, components [(id, h, v)], restart interval, adobe transform) from the markers."""
    i, prog, comps, dri, adobe = 2, False, [], 0, None
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        m = data[i + 1]
        if m == 0xD9 or m == 0xDA:
            if m == 0xDA:
                break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        seg = data[i + 4 : i + 2 + length]
        if m in (0xC0, 0xC1, 0xC2):
            prog = m == 0xC2
            n = seg[5]
            comps = [(seg[6 + 3 * k], seg[7 + 3 * k] >> 4, seg[7 + 3 * k] & 15) for k in range(n)]
        elif m == 0xDD:
            dri = int.from_bytes(seg[:2], "big")
        elif m == 0xEE and seg[:5] == b"Adobe":
            adobe = seg[11]
        i += 2 + length
    return prog, comps, dri, adobe


def scan_start(data: bytes) -> int:
    """Offset of the first byte of entropy-coded data after the first SOS header."""
    i = 2
    while i + 4 <= len(data):
        m = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if m == 0xDA:
            return i + 2 + length
        i += 2 + length
    raise ValueError("no SOS")


def row_hashes(img: Image.Image):
    arr = np.asarray(img, dtype=np.uint8)
    whole = hashlib.sha256(arr.tobytes()).hexdigest()
    rows = [hashlib.sha256(arr[y].tobytes()).hexdigest()[:16] for y in range(arr.shape[0])]
    return whole, rows


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    dog = Image.open(PHOTOS / "dog.jpg").convert("RGB")
    eagle = Image.open(PHOTOS / "eagle.jpg").convert("RGB")
    d1 = dog.crop((120, 110, 248, 206))  # 128x96, dog's head and bicycle
    d2 = dog.crop((400, 40, 501, 117))  # 101x77, truck and sky (odd size)
    e1 = eagle.crop((250, 60, 383, 159))  # 133x99, the eagle (odd size)
    e2 = eagle.crop((300, 120, 397, 203))  # 97x83
    tiny = d1.crop((20, 20, 27, 25))  # 7x5: one partial MCU
    strip = e1.crop((0, 0, 133, 70))  # 133x70: width not a multiple of the 32-pixel 4:1:1 MCU

    cases = []  # (name, bytes, note)

    def add(name, data, note):
        cases.append((name, data, note))

    # Baseline, each Pillow subsampling, a few qualities.
    add("baseline_444_q95", encode(d1, quality=95, subsampling=0), "baseline 4:4:4, quality 95")
    add("baseline_422_q85", encode(d2, quality=85, subsampling=1), "baseline 4:2:2, odd size")
    add("baseline_420_q75", encode(e1, quality=75, subsampling=2), "baseline 4:2:0, odd size (Pillow's default)")
    add("baseline_420_q10", encode(e2, quality=10, subsampling=2), "baseline 4:2:0, quality 10 (large coefficients, clamping)")
    add("baseline_444_q100", encode(e2, quality=100, subsampling=0), "baseline 4:4:4, quality 100")
    add("baseline_420_optimize", encode(d2, quality=80, optimize=True), "baseline 4:2:0, optimised Huffman tables")
    # Progressive.
    add("progressive_420", encode(d1, quality=85, progressive=True), "progressive 4:2:0")
    add("progressive_444", encode(e1, quality=90, subsampling=0, progressive=True, optimize=True), "progressive 4:4:4")
    add("progressive_422", encode(e2, quality=70, subsampling=1, progressive=True), "progressive 4:2:2")
    # Subsamplings Pillow cannot write (TurboJPEG via simplejpeg).
    add("baseline_440", simple(e2, "440"), "baseline 4:4:0 (vertical chroma subsampling, like the full photos)")
    add("baseline_411", simple(strip, "411"), "baseline 4:1:1")
    add("baseline_420_turbo", simple(d2, "420", quality=92), "baseline 4:2:0 written by TurboJPEG")
    # Grayscale.
    add("gray_baseline", encode(d1.convert("L"), quality=85), "grayscale baseline")
    add("gray_progressive", encode(e1.convert("L"), quality=85, progressive=True), "grayscale progressive")
    # CMYK: Pillow writes Adobe-convention (inverted) CMYK with an Adobe APP14 marker (transform 0);
    # TurboJPEG writes YCCK (Adobe transform 2).
    add("cmyk_adobe", encode(d2.convert("CMYK"), quality=90), "CMYK, Adobe APP14 (inverted), transform 0")
    cmyk = np.asarray(e2.convert("CMYK")).copy()
    add("ycck_adobe", simple(Image.fromarray(255 - cmyk, "CMYK"), "420", colorspace="CMYK"), "YCCK, Adobe APP14 transform 2")
    # Restart markers.
    add("restart_blocks_420", encode(e1, quality=85, restart_marker_blocks=3), "restart interval 3 MCUs, baseline 4:2:0")
    add("restart_rows_444_progressive", encode(d1, quality=85, subsampling=0, progressive=True, restart_marker_rows=1),
        "restart interval one MCU row, progressive 4:4:4")
    # Tiny and edge sizes.
    add("tiny_7x5_420", encode(tiny, quality=90), "7x5, a single partial MCU")
    add("one_pixel", encode(Image.new("RGB", (1, 1), (200, 30, 90)), quality=90), "1x1")
    add("tall_9x61_422", encode(d1.crop((3, 5, 12, 66)), quality=88, subsampling=1), "9x61, 4:2:2")
    # EXIF orientations 1..8 on a 40x24 crop (expected: exif_transpose).
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        add(f"exif_orientation_{o}", encode(d1.crop((30, 30, 70, 54)), quality=90, exif=exif.tobytes()),
            f"EXIF orientation {o}")
    # Corrupt entropy data that Pillow still decodes (libjpeg warns and goes on; Pillow ignores
    # warnings): bytes overwritten in the middle of the scan, and a scan cut short but closed by EOI.
    base = encode(e1, quality=85)
    s = scan_start(base)
    bad = bytearray(base)
    for k in range(0, 40, 4):
        bad[s + (len(base) - s) // 2 + k] ^= 0x5A
    add("corrupt_scan_bytes", bytes(bad), "entropy-coded bytes flipped mid-scan (libjpeg warns, Pillow decodes)")
    cut = base[: s + (len(base) - s) // 2] + b"\xff\xd9"
    add("premature_eoi", cut, "scan cut at half and closed by EOI (Pillow decodes, rest is grey)")
    prog = encode(d1, quality=85, progressive=True)
    # Keep only the first scans of a progressive file, then EOI: complete file structurally.
    sos = [i for i in range(len(prog) - 1) if prog[i] == 0xFF and prog[i + 1] == 0xDA]
    add("progressive_first_scans_eoi", prog[: sos[3]] + b"\xff\xd9",
        "progressive file ended by EOI after 3 scans (block smoothing fills the missing coefficients)")

    expected_errors = []  # (name, bytes, note, kind)
    expected_errors.append(("truncated_baseline", base[: s + (len(base) - s) * 3 // 5], "baseline cut at 60% of the scan", "truncated"))
    expected_errors.append(("truncated_progressive", prog[: len(prog) // 2], "progressive cut at half", "truncated"))
    expected_errors.append(("truncated_header", base[:100], "cut inside the header", "truncated"))
    expected_errors.append(("no_eoi", base[:-2], "complete scan but no EOI marker", "truncated"))
    sof = [i for i in range(len(base) - 1) if base[i] == 0xFF and base[i + 1] == 0xC0][0]
    twelve = bytearray(base)
    twelve[sof + 4] = 12
    expected_errors.append(("precision_12", bytes(twelve), "SOF says 12-bit samples", "corrupt"))
    zero = bytearray(base)
    zero[sof + 7 : sof + 9] = b"\x00\x00"
    expected_errors.append(("zero_width", bytes(zero), "SOF width 0", "corrupt"))
    expected_errors.append(("not_a_jpeg_body", b"\xff\xd8\xff\xe0" + b"\x00" * 40, "JPEG signature then zeros", "corrupt"))

    manifest = []
    for name, data, note in cases:
        (OUT / f"{name}.jpg").write_bytes(data)
        ref = pillow_decode(data)
        ref.save(OUT / f"{name}.png", optimize=True)
        prog_, comps, dri, adobe = sof_info(data)
        im = Image.open(io.BytesIO(data))
        manifest.append({
            "name": name, "file": f"{name}.jpg", "expected": f"{name}.png", "note": note,
            "size": list(ref.size), "pillow_mode": im.mode, "progressive": prog_,
            "components": comps, "restart_interval": dri, "adobe_transform": adobe,
            "orientation": im.getexif().get(0x0112, 1),
        })
    for name, data, note, kind in expected_errors:
        (OUT / f"{name}.jpg").write_bytes(data)
        try:
            pillow_decode(data)
        except Exception as e:  # noqa: BLE001 - any exception is Pillow's refusal
            pillow_error = re.sub(r" at 0x[0-9a-f]+", "", f"{type(e).__name__}: {e}")
        else:
            raise SystemExit(f"{name}: Pillow decoded it, expected a refusal")
        manifest.append({"name": name, "file": f"{name}.jpg", "error": kind, "note": note, "pillow_error": pillow_error})
    for photo in ["dog.jpg", "eagle.jpg"]:
        data = (PHOTOS / photo).read_bytes()
        ref = pillow_decode(data)
        whole, rows = row_hashes(ref)
        prog_, comps, dri, adobe = sof_info(data)
        manifest.append({
            "name": photo, "file": f"../../../../../assets/photos/{photo}", "sha256": whole, "row_sha256_16": rows,
            "note": "full photo as distributed", "size": list(ref.size), "progressive": prog_, "components": comps,
            "restart_interval": dri, "adobe_transform": adobe,
            "mean_rgb": [round(float(x), 4) for x in np.asarray(ref).reshape(-1, 3).mean(0)],
        })
    meta = {
        "generator": "tools/reference/cue/make_jpeg_fixtures.py",
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "numpy": np.__version__,
        "reference": "ImageOps.exif_transpose(Image.open(p)).convert('RGB')",
        "cases": manifest,
    }
    (OUT / "cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"wrote {len(manifest)} cases to {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
