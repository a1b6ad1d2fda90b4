"""Write the hardest training films of a dataset as a dataset JSON of their own (for
oversampling them in ``morpho train``: hard-example mining).

Reads the per-image Dice that ``morpho evaluate MODEL DATASET --split train`` wrote
(``images.csv``) and keeps the lowest ``--fraction`` of the training part. AASCE films whose
annotation is defective (``morpho.datasets.aasce.annotation_defect``: overlapping, twisted or
degenerate quadrilaterals) are left out, so the mining does not oversample label errors.

    morpho evaluate models/vertebra_unet.onnx data/aasce/dataset.json --split train \
        --no-overlays --out runs/ev_train
    python analysis/seg_hard_subset.py data/aasce/dataset.json runs/ev_train/images.csv \
        --out data/aasce-hard/dataset.json
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from morpho.datasets.aasce import annotation_defect
from morpho.datasets.contract import load_dataset, quads, write_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("images_csv", type=Path, help="per-image Dice of the training part")
    ap.add_argument("--fraction", type=float, default=0.25)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    dataset = load_dataset(args.dataset)
    dice = pd.read_csv(args.images_csv).set_index("image")["dice"]
    train = [item for item in dataset.split("train") if item.id in dice.index]
    sound = [item for item in train
             if not item.landmarks or not annotation_defect(quads(item.landmarks))]
    ranked = sorted(sound, key=lambda item: dice[item.id])
    hard = ranked[: int(round(args.fraction * len(train)))]
    write_dataset(replace(dataset, name=f"{dataset.name}-hard", items=hard), args.out)
    scores = np.array([dice[item.id] for item in hard])
    print(f"wrote {args.out}: {len(hard)} of {len(train)} training films "
          f"({len(train) - len(sound)} with a defective annotation left out), "
          f"Dice {scores.min():.3f}-{scores.max():.3f} (training part median "
          f"{np.median([dice[i.id] for i in train]):.3f})")


if __name__ == "__main__":
    main()
