"""Separation of merged bodies with and without the radiograph, on synthetic laterals.

Three measurements on one split (default ``test``: the held-out CT) of a ``morpho synth``
set, each with the labelling given the radiograph (``with image``: the disc troughs it
cuts merged strips at) and without it (``mask only``):

* ``strips``: the truth instance masks with the gaps between bodies closed (a closing of
  ``--close`` x the median body height), so whole columns become one or a few strips;
* ``model full`` / ``model 320``: the default model's mask and probability on the image as
  it is, and on an 8-bit JPEG export downsampled to 320 px on the short side; also
  ``no chain``: with the radiograph but without the strip cutting, since the radiograph
  also sets the facing, and with it the posterior height the plausibility is judged on.

A truth body counts as recovered when a labelled body overlaps it with IoU > 0.5; precision
is the share of labelled bodies that match one (also of those centred within the rows the
truth bodies span: the DRRs show levels the truth does not label). Plausibility (aspect,
neighbour ratio; as ``morpho measure`` reports it) is printed per film for the model rows.
Model outputs are cached under ``--cache``.

    OMP_NUM_THREADS=1 python analysis/label_separation.py data/synth/dataset.json
"""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from morpho.datasets.contract import instance_labels, load_dataset
from morpho.io import read_radiograph
from morpho.label import label_bodies, labelling
from morpho.measure import measure_mask
from morpho.segment.evaluate import best_match
from morpho.synth.realism import jpeg_export

MATCH_IOU = 0.5


@contextmanager
def chain_off(off: bool):
    """The labelling without its strip cutting (the radiograph still sets the facing),
    to tell the chain's effect from the facing's."""
    kept = labelling._cut_strips
    if off:
        labelling._cut_strips = lambda keep, *args: keep
    try:
        yield
    finally:
        labelling._cut_strips = kept


def merged_strips(labels: np.ndarray, close: float) -> np.ndarray:
    """The truth bodies with the gaps between them closed (``close`` x median height)."""
    heights = [np.ptp(np.nonzero(labels == k)[0]) + 1 for k in np.unique(labels[labels > 0])]
    k = max(3, int(round(close * np.median(heights))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.morphologyEx((labels > 0).astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0


def score(labels: np.ndarray, mask: np.ndarray, **kw) -> dict:
    """Truth bodies recovered and labelled bodies matched (IoU > ``MATCH_IOU``)."""
    t0 = time.perf_counter()
    lab = label_bodies(mask, **kw)
    ms = (time.perf_counter() - t0) * 1e3
    inst = np.zeros(mask.shape, np.int32)
    for k, v in enumerate(lab.vertebrae, start=1):
        inst[v.rows, v.cols] = k
    sizes = np.bincount(inst.ravel(), minlength=len(lab.vertebrae) + 1)
    truth_ids = [k for k in np.unique(labels) if k > 0]
    rows = np.flatnonzero((labels > 0).any(axis=1))
    inside = sum(rows[0] <= v.centre[1] <= rows[-1] for v in lab.vertebrae)
    matched = set()
    found = 0
    for k in truth_ids:
        value, best = best_match(labels == k, inst, sizes)
        if value > MATCH_IOU:
            found += 1
            matched.add(best)
    return {"truth": len(truth_ids), "found": found, "bodies": len(lab.vertebrae),
            "in_span": inside,
            "matched": len(matched), "ms": ms,
            "components": int(cv2.connectedComponents(mask.astype(np.uint8))[0] - 1)}


def plausible(mask: np.ndarray, prob: np.ndarray, pixels: np.ndarray | None,
              landmarks=None) -> tuple[int, int]:
    """(plausible bodies, measured bodies) as ``morpho measure`` reports them (with the
    model's ``landmarks`` network, as it does)."""
    df = measure_mask(mask, probability=prob, pixels=pixels, landmarks=landmarks)
    return int(df["plausible"].astype(bool).sum()) if len(df) else 0, len(df)


def summarise(rows: pd.DataFrame) -> None:
    for (kind, image), g in rows.groupby(["kind", "image"], sort=False):
        recall = g["found"].sum() / g["truth"].sum()
        precision = g["matched"].sum() / max(g["bodies"].sum(), 1)
        in_span = g["matched"].sum() / max(g["in_span"].sum(), 1)
        line = (f"{kind:11s} {image:10s} films {len(g):3d}  recall {recall:.3f}  "
                f"precision {precision:.3f} (within the truth's rows {in_span:.3f})  "
                f"components/film {g['components'].mean():5.1f}  "
                f"bodies/film {g['bodies'].mean():5.1f}  label ms median "
                f"{g['ms'].median():5.1f} max {g['ms'].max():5.1f}")
        if "plausible" in g and g["plausible"].notna().all():
            share = g["plausible"].sum() / max(g["measured"].sum(), 1)
            line += (f"  plausible {share:.2f} of bodies, median {g['plausible'].median():.0f}"
                     f"/film, >=8 on {(g['plausible'] >= 8).sum()}/{len(g)}")
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--close", type=float, default=0.6)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/label_separation_cache"))
    ap.add_argument("--no-model", action="store_true", help="merged truth strips only")
    ap.add_argument("--out", type=Path, help="write the per-film rows as CSV")
    args = ap.parse_args()
    dataset = load_dataset(args.dataset)
    segmenter = None
    if not args.no_model:
        from morpho.segment.infer import Segmenter

        segmenter = Segmenter(spine_only=False)
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in dataset.split(args.split):
        pixels = read_radiograph(item.image).pixels
        labels = instance_labels(item, pixels.shape[:2])
        small, small_labels = jpeg_export(pixels, labels)
        for kind, (px, lab) in (("strips", (pixels, labels)),
                                ("strips 320", (small, small_labels))):
            strips = merged_strips(lab, args.close)
            for image, given in (("mask only", None), ("with image", px)):
                rows.append({"film": item.id, "kind": kind, "image": image,
                             **score(lab, strips, pixels=given)})
        if segmenter is None:
            continue
        for kind, (px, lab) in (("model full", (pixels, labels)),
                                ("model 320", (small, small_labels))):
            cached = args.cache / f"{Path(args.dataset).parent.name}_{item.id}_{kind[6:]}.npz"
            if cached.exists():
                data = np.load(cached)
                mask, prob = data["mask"], data["prob"]
            else:
                mask, prob = segmenter.segment(px)
                np.savez_compressed(cached, mask=mask, prob=prob.astype(np.float16))
            prob = prob.astype(np.float32)
            for image, given in (("mask only", None), ("no chain", px), ("with image", px)):
                with chain_off(image == "no chain"):
                    good, measured = plausible(mask, prob, given, segmenter.landmarks)
                    rows.append({"film": item.id, "kind": kind, "image": image,
                                 **score(lab, mask, probability=prob, pixels=given),
                                 "plausible": good, "measured": measured})
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    summarise(table)


if __name__ == "__main__":
    main()
