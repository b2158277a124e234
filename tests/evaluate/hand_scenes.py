"""Scenes in TT100K form written by hand or drawn at random, for the evaluation tests."""

from __future__ import annotations

import random


def obj(category, x1, y1, x2, y2, score=None):
    o = {"category": category, "bbox": {"xmin": x1, "ymin": y1, "xmax": x2, "ymax": y2}}
    if score is not None:
        o["score"] = score
    return o


def scene(**images):
    """scene(a=[...objects...], b=[...]) -> {"imgs": {"a": {"objects": [...]}, ...}}."""
    return {"imgs": {name: {"objects": list(objects)} for name, objects in images.items()}}


def counts(result):
    return result["correct"], result["num_gt"], result["num_det"]


def random_scene(rng, num_images=3, max_objects=6):
    """Small random scenes with many overlaps, IoU ties, off-list types and sizes across
    every bin. Integer coordinates on a coarse grid make exact ties frequent."""
    cats = ["pn", "pl50", "zz"]
    gt, res = {"imgs": {}}, {"imgs": {}}

    def rand_box():
        x, y = rng.randrange(0, 120, 4), rng.randrange(0, 120, 4)
        w, h = rng.choice([8, 16, 28, 32, 40, 60, 96, 100, 140]), rng.choice([8, 16, 32, 48])
        return x, y, x + w, y + h

    for k in range(num_images):
        gts = [obj(rng.choice(cats), *rand_box()) for _ in range(rng.randint(0, max_objects))]
        dets = []
        for _ in range(rng.randint(0, max_objects + 2)):
            if gts and rng.random() < 0.6:  # jitter a sign, possibly to another class
                g = rng.choice(gts)
                b = g["bbox"]
                d = [b["xmin"] + rng.choice([-4, 0, 0, 4]), b["ymin"] + rng.choice([0, 4]),
                     b["xmax"] + rng.choice([-4, 0, 4]), b["ymax"] + rng.choice([0, 0, -4])]
                cat = g["category"] if rng.random() < 0.8 else rng.choice(cats)
            else:
                d, cat = list(rand_box()), rng.choice(cats)
            score = None if rng.random() < 0.15 else rng.choice([10, 39, 40, 41, 75, 99.5])
            dets.append(obj(cat, *d, score))
        gt["imgs"][str(k)] = {"objects": gts}
        res["imgs"][str(k)] = {"objects": dets}
    gt["imgs"]["only_gt"] = {"objects": [obj("pn", 0, 0, 20, 20)]}  # never scored
    return gt, res
