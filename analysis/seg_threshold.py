"""Mean Dice on a split for several probability thresholds (choose on val, never on test).

    python analysis/seg_threshold.py MODEL.onnx DATASET.json [--split val]
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
    args = parser.parse_args()
    segmenter = Segmenter(args.model)
    dataset = load_dataset(args.dataset)
    scores = {t: [] for t in THRESHOLDS}
    for item in dataset.split(args.split):
        pixels = read_radiograph(item.image).pixels
        prepared = prepare(pixels, segmenter.preprocess)
        prob = prepared.transform.to_original(segmenter.probabilities([prepared])[0])
        truth = truth_mask(item, pixels.shape)
        for t in THRESHOLDS:
            scores[t].append(dice(*stats(prob > t, truth)))
    for t in THRESHOLDS:
        print(f"threshold {t:.2f}: mean Dice {np.mean(scores[t]):.4f}")


if __name__ == "__main__":
    main()
