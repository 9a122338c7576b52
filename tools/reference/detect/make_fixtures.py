"""Reference fixtures for crates/cuelab-detect (tract vs onnxruntime, preprocessing, YOLO decode + NMS).

Writes crates/cuelab-detect/tests/data/:
  centernet_{dog,eagle}_input.png   the CenterNet input tensor [1,512,512,3] (RGB 0-255, NHWC), rounded to
                                    uint8 so it is stored losslessly; onnxruntime ran on exactly these values
  centernet_{dog,eagle}_ort.json    onnxruntime's raw `tower_0/detections` [100,6] on that tensor
  yolo_tiny.onnx                    untrained YOLOv8-architecture detector (8 classes named after the first 8 COCO
                                    classes, width 1/16, reg_max 4, imgsz 160), exported by ultralytics (opset 13),
                                    random weights (seed 0), about 0.1 MB
  yolo_{dog,eagle}_input.png        its letterboxed input (ultralytics LetterBox: cv2 INTER_LINEAR, gray 114 pad)
  yolo_{dog,eagle}_ort.npy          onnxruntime's raw `output0` [1,12,525] (float32)
  yolo_{dog,eagle}_nms.json         reference decode: best class per anchor, score > conf, xywh -> xyxy,
                                    torchvision.ops.batched_nms(iou), top max_det, boxes mapped back to photo px
  not_a_detector.onnx               a valid ONNX model (Relu on [1,3,8]) that is no detector, for the error test
  preprocess.json                   preprocessing of a synthetic 37x23 image (no JPEG decoder involved):
                                    CenterNet's TF-style bilinear (asymmetric, no antialias) to 512x512 sampled at
                                    fixed pixels, and ultralytics' letterbox to 64x64 (exact uint8 image)

Run with the reference venv (tools/reference/README.md) and ultralytics installed:
  YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 /opt/refenv/bin/python tools/reference/detect/make_fixtures.py
Nothing is downloaded: the YOLO model is built from a yaml and never trained.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

import cv2
import numpy as np
import onnxruntime as ort
import torch
import torchvision
from PIL import Image

ROOT = Path(__file__).resolve().parents[3]
CRATE = ROOT / "crates" / "cuelab-detect"
OUT = CRATE / "tests" / "data"
PHOTOS = {"dog": ROOT / "assets/photos/dog.jpg", "eagle": ROOT / "assets/photos/eagle.jpg"}
CENTERNET = CRATE / "models" / "centernet-mbv3-coco.onnx"
YOLO_IMGSZ = 160
YOLO_NAMES = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck"]
YOLO_IOU = 0.15  # the random model's boxes are small (~11x15 px): a low threshold so NMS suppresses
YOLO_MAX = 120


def tf_resize_bilinear(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """tf.image.resizeBilinear(x, [h, w]) with TF.js's defaults (alignCorners=false, halfPixelCenters=false):
    source coordinate = destination index * (in / out), bilinear between floor and floor+1 (clamped), no antialias.
    This is what @vladmandic/human's centernet.ts feeds the model."""
    in_h, in_w = img.shape[:2]
    x = img.astype(np.float64)
    sy = np.arange(out_h) * (in_h / out_h)
    sx = np.arange(out_w) * (in_w / out_w)
    y0 = np.floor(sy).astype(int)
    x0 = np.floor(sx).astype(int)
    y1 = np.minimum(y0 + 1, in_h - 1)
    x1 = np.minimum(x0 + 1, in_w - 1)
    fy = (sy - y0)[:, None, None]
    fx = (sx - x0)[None, :, None]
    top = x[y0][:, x0] * (1 - fx) + x[y0][:, x1] * fx
    bot = x[y1][:, x0] * (1 - fx) + x[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def letterbox(rgb: np.ndarray, size: int):
    """ultralytics LetterBox(size, auto=False) on an RGB uint8 image; returns (image, gain, left, top)."""
    from ultralytics.data.augment import LetterBox

    bgr = rgb[:, :, ::-1].copy()
    out = LetterBox((size, size), auto=False)(image=bgr)
    h, w = rgb.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    left = round((size - new_w) / 2 - 0.1)
    top = round((size - new_h) / 2 - 0.1)
    return out[:, :, ::-1].copy(), r, new_w, new_h, left, top


def save_png(path: Path, arr: np.ndarray):
    Image.fromarray(arr.astype(np.uint8), "RGB").save(path, optimize=True)


def centernet_fixtures():
    sess = ort.InferenceSession(str(CENTERNET), providers=["CPUExecutionProvider"])
    for name, path in PHOTOS.items():
        rgb = np.asarray(Image.open(path).convert("RGB"))
        x = np.clip(np.round(tf_resize_bilinear(rgb, 512, 512)), 0, 255).astype(np.uint8)
        save_png(OUT / f"centernet_{name}_input.png", x)
        (det,) = sess.run(["tower_0/detections"], {"tower_0_images": x[None].astype(np.float32)})
        json.dump(
            {"shape": list(det.shape), "detections": det[0].astype(float).tolist(),
             "photo_size": [rgb.shape[1], rgb.shape[0]]},
            open(OUT / f"centernet_{name}_ort.json", "w"),
        )
        print(name, "centernet top:", det[0][:3].round(3).tolist())


def make_tiny_yolo() -> Path:
    from ultralytics import YOLO
    from ultralytics.utils import YAML
    import ultralytics

    torch.manual_seed(0)
    cfg_path = Path(ultralytics.__file__).parent / "cfg/models/v8/yolov8.yaml"
    cfg = YAML.load(cfg_path)
    cfg["scales"] = {"t": [0.33, 0.0625, 128]}
    cfg["scale"] = "t"
    cfg["reg_max"] = 4
    cfg["nc"] = len(YOLO_NAMES)
    tiny_yaml = OUT / "_yolov8t.yaml"
    YAML.save(tiny_yaml, cfg)
    model = YOLO(str(tiny_yaml))
    tiny_yaml.unlink()
    model.model.names = dict(enumerate(YOLO_NAMES))  # stored in the ONNX metadata_props["names"]
    # Ultralytics' initialisation gives every anchor the same score and box (uniform DFL): draw the
    # weights instead so scores and boxes vary and NMS has real decisions (ties) to make.
    with torch.no_grad():
        for m in model.model.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0.0, 1.5 / fan_in**0.5)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.5)
        for seq in model.model.model[-1].cv3:  # the class logits: spread the classes
            seq[-1].bias.normal_(0.0, 0.3)
            seq[-1].weight.normal_(0.0, 4.0 / seq[-1].weight[0].numel() ** 0.5)
    exported = Path(model.export(format="onnx", opset=13, imgsz=YOLO_IMGSZ, simplify=False, dynamic=False))
    dst = OUT / "yolo_tiny.onnx"
    exported.replace(dst)
    print("yolo_tiny.onnx", dst.stat().st_size, "bytes")
    return dst


def yolo_reference(raw: np.ndarray, gain, left, top, w, h, conf, iou, max_det):
    """Decode [1, 4+C, N] (cx, cy, w, h in input px + C class scores): best class per anchor, score > conf,
    class-aware NMS with torchvision.ops.batched_nms on input-pixel boxes, keep max_det, then
    ultralytics.utils.ops.scale_boxes (undo the letterbox with per-axis gains, clip to the photo)."""
    p = torch.from_numpy(raw[0].T.astype(np.float32))
    scores, cls = p[:, 4:].max(1)
    keep = scores > conf
    p, scores, cls = p[keep], scores[keep], cls[keep]
    xy, wh = p[:, :2], p[:, 2:4]
    boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1)
    order = torchvision.ops.batched_nms(boxes, scores, cls, iou)[:max_det]
    from ultralytics.utils import ops

    mapped = ops.scale_boxes((YOLO_IMGSZ, YOLO_IMGSZ), boxes[order].clone(), (h, w))  # un-letterbox + clip
    return [
        {"box": mapped[k].tolist(), "input_box": boxes[i].tolist(), "score": float(scores[i]), "class": int(cls[i])}
        for k, i in enumerate(order.tolist())
    ]


def yolo_fixtures():
    onnx_path = make_tiny_yolo()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for name, path in PHOTOS.items():
        rgb = np.asarray(Image.open(path).convert("RGB"))
        lb, r, new_w, new_h, left, top = letterbox(rgb, YOLO_IMGSZ)
        save_png(OUT / f"yolo_{name}_input.png", lb)
        x = (lb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        (raw,) = sess.run(["output0"], {"images": x})
        np.save(OUT / f"yolo_{name}_ort.npy", raw.astype(np.float32))
        # random weights: set the threshold at the 300th best score so NMS has work on every image
        best = raw[0, 4:].max(0)
        conf = float(np.sort(best)[-300])
        dets = yolo_reference(raw, r, left, top, rgb.shape[1], rgb.shape[0], conf, YOLO_IOU, YOLO_MAX)
        json.dump(
            {"conf": conf, "iou": YOLO_IOU, "max_det": YOLO_MAX, "photo_size": [rgb.shape[1], rgb.shape[0]],
             "gain": r, "pad": [left, top], "resized": [new_w, new_h], "detections": dets},
            open(OUT / f"yolo_{name}_nms.json", "w"),
        )
        print(name, "yolo raw", raw.shape, "conf", conf, "kept", len(dets))


def preprocess_fixture():
    h, w = 23, 37
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 7 + yy * 13) % 256, (xx * 31 + yy * 3 + 50) % 256, (xx * yy * 5 + 100) % 256], -1)
    img = img.astype(np.uint8)
    cn = tf_resize_bilinear(img, 512, 512)
    pts = [[0, 0], [1, 1], [13, 200], [255, 256], [300, 17], [511, 511], [400, 123], [77, 490]]
    lb, r, new_w, new_h, left, top = letterbox(img, 64)
    # a downscale too (cv2 INTER_LINEAR does not antialias): 301x199 -> 64
    yy2, xx2 = np.mgrid[0:199, 0:301]
    big = np.stack([(xx2 * 7 + yy2 * 13) % 256, (xx2 * 31 + yy2 * 3 + 50) % 256, (xx2 * yy2 * 5 + 100) % 256], -1)
    lb2, *_ = letterbox(big.astype(np.uint8), 64)
    json.dump(
        {"size": [w, h],
         "letterbox_down_size": [301, 199], "letterbox_down": lb2.reshape(-1).tolist(),
         "formula": "r,g,b = (7x+13y)%256, (31x+3y+50)%256, (5xy+100)%256",
         "centernet_points": [{"y": y, "x": x, "rgb": cn[y, x].tolist()} for y, x in pts],
         "letterbox_size": 64, "letterbox_gain": r, "letterbox_pad": [left, top], "letterbox_resized": [new_w, new_h],
         "letterbox": lb.reshape(-1).tolist()},
        open(OUT / "preprocess.json", "w"),
    )


def not_a_detector():
    """A valid ONNX model whose layout is no detector's (Relu on [1,3,8]), for the error test."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, OUT / "not_a_detector.onnx")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    print("onnxruntime", ort.__version__, "torch", torch.__version__, "torchvision", torchvision.__version__)
    preprocess_fixture()
    not_a_detector()
    centernet_fixtures()
    yolo_fixtures()


if __name__ == "__main__":
    sys.exit(main())
