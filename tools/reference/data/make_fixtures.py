"""Write the small dataset fixtures under crates/cuelab-data/tests/data/, each to its published
schema. Run with /opt/refenv/bin/python from the repository root; the output is committed.

RefCOCO refs are pickled by Python's own pickle at protocol 2 and protocol 4, with the real refs
structure: a list of dicts with image_id, split, sentences [{tokens, raw, sent_id, sent}],
file_name, category_id, ann_id, sent_ids, ref_id.
"""
import csv
import json
import os
import pickle

from PIL import Image

OUT = "crates/cuelab-data/tests/data"


def tiny_jpg(path, colour):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (8, 6), colour).save(path, quality=90)


def refcoco():
    d = f"{OUT}/refcocog"
    os.makedirs(d, exist_ok=True)
    images = [
        {"id": 581857, "file_name": "COCO_train2014_000000581857.jpg", "width": 640, "height": 480},
        {"id": 1000, "file_name": "COCO_train2014_000000001000.jpg", "width": 320, "height": 240},
    ]
    anns = [
        {"id": 1719310, "image_id": 581857, "category_id": 1, "bbox": [103.93, 299.99, 134.22, 177.01],
         "area": 15000.0, "iscrowd": 0, "segmentation": [[103.9, 300.0, 238.1, 300.0, 238.1, 477.0]]},
        {"id": 1719311, "image_id": 581857, "category_id": 18, "bbox": [10, 20, 30, 40],
         "area": 1200.0, "iscrowd": 0, "segmentation": {"size": [480, 640], "counts": [100, 20, 307080]}},
        {"id": 2000, "image_id": 1000, "category_id": 18, "bbox": [0, 0, 50, 60],
         "area": 3000.0, "iscrowd": 0, "segmentation": [[0, 0, 50, 0, 50, 60, 0, 60]]},
    ]
    cats = [{"id": 1, "name": "person", "supercategory": "person"},
            {"id": 18, "name": "dog", "supercategory": "animal"}]
    with open(f"{d}/instances.json", "w") as f:
        json.dump({"images": images, "annotations": anns, "categories": cats}, f)

    def sent(i, raw):
        toks = raw.lower().replace(".", "").split()
        return {"tokens": toks, "raw": raw, "sent_id": i, "sent": " ".join(toks)}

    refs = [
        {"image_id": 581857, "split": "train",
         "sentences": [sent(0, "The lady with the blue shirt."), sent(1, "woman in blue on the left")],
         "file_name": "COCO_train2014_000000581857_1719310.jpg", "category_id": 1,
         "ann_id": 1719310, "sent_ids": [0, 1], "ref_id": 0},
        {"image_id": 581857, "split": "val", "sentences": [sent(2, "small brown dog")],
         "file_name": "COCO_train2014_000000581857_1719311.jpg", "category_id": 18,
         "ann_id": 1719311, "sent_ids": [2], "ref_id": 1},
        {"image_id": 1000, "split": "test", "sentences": [sent(3, "a dog in the corner")],
         "file_name": "COCO_train2014_000000001000_2000.jpg", "category_id": 18,
         "ann_id": 2000, "sent_ids": [3], "ref_id": 2},
    ]
    for proto in (2, 4):
        with open(f"{d}/refs(umd)_p{proto}.p", "wb") as f:
            pickle.dump(refs, f, protocol=proto)
    # A protocol-2 copy under the canonical name, and a truncated one for the bad-input test.
    with open(f"{d}/refs(umd).p", "wb") as f:
        pickle.dump(refs, f, protocol=2)
    data = pickle.dumps(refs, protocol=4)
    with open(f"{OUT}/bad/refs_truncated.p", "wb") as f:
        f.write(data[: len(data) // 2])
    tiny_jpg(f"{d}/images/COCO_train2014_000000581857.jpg", (200, 30, 30))
    tiny_jpg(f"{d}/images/COCO_train2014_000000001000.jpg", (30, 30, 200))


def coco():
    d = f"{OUT}/coco"
    os.makedirs(d, exist_ok=True)
    images = [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 6},
              {"id": 2, "file_name": "b.jpg", "width": 8, "height": 6}]
    caps = [{"id": 10, "image_id": 1, "caption": "A red square."},
            {"id": 11, "image_id": 1, "caption": "Something red."},
            {"id": 12, "image_id": 2, "caption": "A blue square."}]
    with open(f"{d}/captions_val2014.json", "w") as f:
        json.dump({"info": {}, "licenses": [], "images": images, "annotations": caps}, f)
    karpathy = {"dataset": "coco", "images": [
        {"filepath": "val2014", "filename": "a.jpg", "imgid": 0, "cocoid": 1, "split": "test",
         "sentids": [0], "sentences": [{"tokens": ["a", "red", "square"], "raw": "A red square.",
                                         "imgid": 0, "sentid": 0}]},
        {"filepath": "val2014", "filename": "b.jpg", "imgid": 1, "cocoid": 2, "split": "restval",
         "sentids": [1], "sentences": [{"tokens": ["a", "blue", "square"], "raw": "A blue square.",
                                         "imgid": 1, "sentid": 1}]},
    ]}
    with open(f"{d}/dataset_coco.json", "w") as f:
        json.dump(karpathy, f)
    with open(f"{d}/results.json", "w") as f:
        json.dump([{"image_id": 1, "caption": "a red box"}, {"image_id": 2, "caption": "blue"}], f)
    tiny_jpg(f"{d}/images/a.jpg", (220, 20, 20))
    tiny_jpg(f"{d}/images/b.jpg", (20, 20, 220))
    tiny_jpg(f"{d}/images/val2014/a.jpg", (220, 20, 20))
    tiny_jpg(f"{d}/images/val2014/b.jpg", (20, 20, 220))


def mmvp():
    d = f"{OUT}/mmvp"
    os.makedirs(d, exist_ok=True)
    rows = [
        (1, "Are the butterfly's feet visible?", "(a) Yes (b) No", "(b)"),
        (2, "Are the butterfly's feet visible?", "(a) Yes (b) No", "(a)"),
        (99, "Is the door open or closed?", "(a) Open (b) Closed", "(a)"),
        (100, "Is the door open or closed?", "(a) Open (b) Closed", "(b)"),
    ]
    with open(f"{d}/Questions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Index", "Question", "Options", "Correct Answer"])
        w.writerows(rows)
    for i, _, _, _ in rows:
        tiny_jpg(f"{d}/MMVP Images/{i}.jpg", (i, 100, 100))
    v = f"{OUT}/mmvp_vlm"
    os.makedirs(v, exist_ok=True)
    with open(f"{v}/Questions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Question ID", "Type", "Statement"])
        w.writerow([1, "Orientation and Direction", "The school bus is parked facing the camera"])
        w.writerow([2, "Orientation and Direction", "The school bus is parked facing away"])
    for i in (1, 2):
        tiny_jpg(f"{v}/MLLM_VLM Images/Orientation and Direction/{i}.jpg", (10, 10, 10 * i))


def ssv2():
    d = f"{OUT}/ssv2"
    os.makedirs(d, exist_ok=True)
    labels = {"Holding something next to something": "0", "Pushing something from left to right": "1"}
    with open(f"{d}/labels.json", "w") as f:
        json.dump(labels, f)
    train = [{"id": "78687", "label": "holding potato next to vicks vaporub bottle",
              "template": "Holding [something] next to [something]",
              "placeholders": ["potato", "vicks vaporub bottle"]}]
    val = [{"id": "74225", "label": "pushing a cup from left to right",
            "template": "Pushing [something] from left to right", "placeholders": ["a cup"]}]
    with open(f"{d}/train.json", "w") as f:
        json.dump(train, f)
    with open(f"{d}/validation.json", "w") as f:
        json.dump(val, f)
    boxes = {"74225": [
        {"name": "74225/0001.jpg", "labels": [
            {"box2d": {"x1": 10.0, "y1": 20.0, "x2": 50.0, "y2": 60.0}, "category": "a cup", "standard_category": "0000"},
            {"box2d": {"x1": 0.0, "y1": 0.0, "x2": 30.0, "y2": 30.0}, "category": "hand", "standard_category": "hand"}],
         "gt_placeholders": ["a cup"], "nr_instances": 2},
        {"name": "74225/0002.jpg", "labels": [
            {"box2d": {"x1": 14.0, "y1": 20.0, "x2": 54.0, "y2": 60.0}, "category": "a cup", "standard_category": "0000"}],
         "gt_placeholders": ["a cup"], "nr_instances": 1},
    ]}
    with open(f"{d}/bounding_box_smthsmth_part1.json", "w") as f:
        json.dump(boxes, f)
    os.makedirs(f"{d}/videos", exist_ok=True)
    for vid in ("78687", "74225"):
        with open(f"{d}/videos/{vid}.webm", "wb") as f:
            f.write(b"\x1a\x45\xdf\xa3")


def bad():
    d = f"{OUT}/bad"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/instances_truncated.json", "w") as f:
        f.write('{"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "hei')
    with open(f"{d}/instances_wrong_schema.json", "w") as f:
        json.dump({"images": [{"id": "one"}], "annotations": [], "categories": []}, f)
    with open(f"{d}/instances_missing_image.json", "w") as f:
        json.dump({"images": [{"id": 1, "file_name": "a.jpg", "width": 8, "height": 6},
                              {"id": 7, "file_name": "nope.jpg", "width": 8, "height": 6}],
                   "annotations": [{"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]},
                                   {"id": 4, "image_id": 99, "category_id": 1, "bbox": [0, 0, 2, 2]}],
                   "categories": [{"id": 1, "name": "thing"}]}, f)
    with open(f"{d}/samples.jsonl", "w") as f:
        f.write('{"id":"ok","dataset":"x","task":"caption","captions":["hi"]}\n')
        f.write('{"id":"bad","dataset":"x","task":"multiple_choice","choices":["a"],"answer_index":3}\n')
        f.write('{"id":"trunc","dataset":\n')


if __name__ == "__main__":
    os.makedirs(f"{OUT}/bad", exist_ok=True)
    refcoco()
    coco()
    mmvp()
    ssv2()
    bad()
