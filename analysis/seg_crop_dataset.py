"""Write spine crops of a dataset (the JSON contract), to train the segmenter's zoomed pass.

Each image is cut to the box of its truth mask, padded on each side by a random share
(``--pad``, of the box's short side) and cut by the film's edges, so that the network sees
the spine at the scale a second pass on the first pass's box gives it. Crops are 8-bit PNG
(min/max over the crop, as morpho's preprocessing starts); masks are PNG (landmarks
filled). Ids (suffixed ``-crop``), splits, view, fractures and spacing are kept; a crop
under ``MIN_SIDE`` px a side is left out.

    python analysis/seg_crop_dataset.py data/aasce/dataset.json --out data/crops/aasce
"""

from __future__ import annotations

import argparse
import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from rich.progress import track

from morpho.datasets.contract import Dataset, load_dataset, truth_mask, write_dataset
from morpho.io import read_radiograph
from morpho.preprocess import to_uint8

MIN_SIDE = 64  # morpho's readers refuse smaller images


def crop_box(mask: np.ndarray, pads: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the mask's box padded by ``pads`` (top, bottom, left,
    right; shares of the box's short side), within the image; None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    short = min(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    t, b, left, right = (pads * short).round().astype(int)
    h, w = mask.shape
    return (max(rows[0] - t, 0), min(rows[-1] + 1 + b, h),
            max(cols[0] - left, 0), min(cols[-1] + 1 + right, w))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pad", type=float, nargs=2, default=(0.1, 0.6))
    parser.add_argument("--splits", default="train,val", help="parts to keep, comma separated")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    keep = set(args.splits.split(","))
    rng = np.random.default_rng(args.seed)
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    items = []
    for item in track([i for i in dataset.items if i.split in keep], description=dataset.name):
        pixels = read_radiograph(item.image).pixels
        mask = truth_mask(item, pixels.shape[:2])
        box = crop_box(mask, rng.uniform(*args.pad, size=4))
        if box is None or min(box[1] - box[0], box[3] - box[2]) < MIN_SIDE:
            continue  # no spine, or a sliver of one
        top, bottom, left, right = box
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", item.id) + "-crop"
        image_path, mask_path = f"images/{stem}.png", f"masks/{stem}_mask.png"
        cv2.imwrite(str(args.out / image_path), to_uint8(pixels[top:bottom, left:right]))
        cv2.imwrite(str(args.out / mask_path),
                    mask[top:bottom, left:right].astype(np.uint8) * 255)
        items.append(replace(item, id=item.id + "-crop", image=Path(image_path),
                             mask=Path(mask_path), labels=None, landmarks=None))
    write_dataset(Dataset(dataset.name + "-crop", items, dataset.levels, dataset.view),
                  args.out / "dataset.json")
    print(f"{len(items)} crops -> {args.out / 'dataset.json'}")


if __name__ == "__main__":
    main()
