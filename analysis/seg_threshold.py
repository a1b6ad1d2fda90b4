"""Mean Dice on a split for several probability thresholds (choose on val, never on test).

    python analysis/seg_threshold.py MODEL.onnx DATASET.json [--split val] [--flip] [--heights]

``--flip`` also scores left-right flip test-time augmentation, side by side. ``--heights``
also measures each thresholded mask and the truth mask with the same ``measure_mask`` and
compares the middle heights body by body (a body matches the truth body whose centre lies
within half its height): like for like, so the figure is the segmentation's height error,
free of how the truth's own heights were annotated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from morpho.datasets.contract import load_dataset, truth_mask
from morpho.io import read_radiograph
from morpho.measure import measure_mask
from morpho.preprocess import prepare
from morpho.segment.infer import Segmenter
from morpho.segment.metrics import dice, stats

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)


def height_errors(mask: np.ndarray, truth, view: str) -> list[float]:
    """Signed middle-height errors (%) of the mask's bodies against the truth's
    measurements (a DataFrame of ``measure_mask``), one per matched truth body."""
    found = measure_mask(mask, view=view)
    errors = []
    for body in truth.itertuples():
        if found.empty:
            break
        d = np.hypot(found["cx"] - body.cx, found["cy"] - body.cy).to_numpy()
        k = int(np.argmin(d))
        if d[k] < 0.5 * body.hm_px:
            errors.append((found["hm_px"].iloc[k] / body.hm_px - 1) * 100)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--flip", action="store_true", help="also with flip TTA")
    parser.add_argument("--heights", action="store_true", help="also middle-height errors")
    args = parser.parse_args()
    modes = {"plain": Segmenter(args.model, flip=False)}
    if args.flip:
        modes["flip"] = Segmenter(args.model, flip=True)
    dataset = load_dataset(args.dataset)
    scores = {(m, t): [] for m in modes for t in THRESHOLDS}
    heights = {(m, t): [] for m in modes for t in THRESHOLDS}
    bodies = 0
    for item in dataset.split(args.split):
        pixels = read_radiograph(item.image).pixels
        truth = truth_mask(item, pixels.shape)
        if args.heights:
            truth_bodies = measure_mask(truth, view=dataset.view)
            bodies += len(truth_bodies)
        for mode, segmenter in modes.items():
            prepared = prepare(pixels, segmenter.preprocess)
            prob = prepared.transform.to_original(segmenter.probabilities([prepared])[0])
            for t in THRESHOLDS:
                mask = prob > t
                scores[mode, t].append(dice(*stats(mask, truth)))
                if args.heights:
                    heights[mode, t].extend(height_errors(mask, truth_bodies, dataset.view))
    for t in THRESHOLDS:
        row = "  ".join(f"{m} {np.mean(scores[m, t]):.4f}" for m in modes)
        print(f"threshold {t:.2f}: mean Dice  {row}")
        for m in modes if args.heights else ():
            e = np.array(heights[m, t])
            print(f"    {m}: {e.size}/{bodies} truth bodies matched; Hm error signed "
                  f"median {np.median(e):+.2f}%, |error| median {np.median(np.abs(e)):.2f}%, "
                  f"within 5%: {(np.abs(e) <= 5).mean():.1%}")


if __name__ == "__main__":
    main()
