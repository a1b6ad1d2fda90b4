"""Mean Dice on a split for several probability thresholds (choose on val, never on test).

    python analysis/seg_threshold.py MODEL.onnx DATASET.json [--split val] [--flip]

``--flip`` also scores left-right flip test-time augmentation, side by side.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from morpho.datasets.contract import load_dataset, truth_mask
from morpho.io import read_radiograph
from morpho.preprocess import prepare
from morpho.segment.infer import Segmenter
from morpho.segment.metrics import dice, stats

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="val")
    parser.add_argument("--flip", action="store_true", help="also with flip TTA")
    args = parser.parse_args()
    modes = {"plain": Segmenter(args.model, flip=False)}
    if args.flip:
        modes["flip"] = Segmenter(args.model, flip=True)
    dataset = load_dataset(args.dataset)
    scores = {(m, t): [] for m in modes for t in THRESHOLDS}
    for item in dataset.split(args.split):
        pixels = read_radiograph(item.image).pixels
        truth = truth_mask(item, pixels.shape)
        for mode, segmenter in modes.items():
            prepared = prepare(pixels, segmenter.preprocess)
            prob = prepared.transform.to_original(segmenter.probabilities([prepared])[0])
            for t in THRESHOLDS:
                scores[mode, t].append(dice(*stats(prob > t, truth)))
    for t in THRESHOLDS:
        row = "  ".join(f"{m} {np.mean(scores[m, t]):.4f}" for m in modes)
        print(f"threshold {t:.2f}: mean Dice  {row}")


if __name__ == "__main__":
    main()
