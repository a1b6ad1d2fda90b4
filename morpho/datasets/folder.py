"""A folder of images with binary masks (``<stem>_mask.png`` or masks/<stem>.png) as a dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from morpho.datasets.contract import Dataset, DatasetItem
from morpho.io.files import find_images


def find_mask(image: Path, masks: Path) -> Path | None:
    for candidate in (masks / f"{image.stem}_mask.png", masks / f"{image.stem}.png"):
        if candidate.exists() and candidate != image:
            return candidate
    return None


def load_folder(
    images: str | Path, masks: str | Path | None = None, name: str | None = None,
    val: float = 0.1, test: float = 0.1, seed: int = 0, view: str | None = None,
) -> Dataset:
    """Every image with a mask; a seeded random train/val/test split by the given fractions."""
    images = Path(images)
    masks = Path(masks) if masks else images
    pairs = [
        (image, mask)
        for image in find_images(images, recursive=False)
        if not image.stem.endswith("_mask")
        and (mask := find_mask(image, masks)) is not None
    ]
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_test, n_val = round(test * len(pairs)), round(val * len(pairs))
    items = []
    for rank, index in enumerate(order):
        image, mask = pairs[index]
        split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
        items.append(DatasetItem(image.stem, image, split, mask=mask, view=view))
    items.sort(key=lambda item: item.id)
    return Dataset(name or images.name, items, view=view)
