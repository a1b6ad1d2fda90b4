"""Pack a dataset once into network-size arrays (``.npz``) so that training epochs are fast."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
from rich.progress import track

from morpho.atomic import atomic_write
from morpho.datasets.contract import Dataset, DatasetItem, truth_mask
from morpho.io import read_radiograph
from morpho.preprocess import PreprocessConfig, prepare


def pack_item(item: DatasetItem, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8, mask uint8 0/1) at the network size."""
    pixels = read_radiograph(item.image).pixels
    prepared = prepare(pixels, config)
    mask = truth_mask(item, pixels.shape[:2]).astype(np.float32)
    small = prepared.transform.to_network(mask, cv2.INTER_AREA) > 0.5
    return np.round(prepared.array * 255).astype(np.uint8), small.astype(np.uint8)


def pad_to_common_shape(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack 2-D arrays, centring smaller ones on zeros (``fit`` and ``budget`` canvases)."""
    height, width = max(a.shape[0] for a in arrays), max(a.shape[1] for a in arrays)
    out = np.zeros((len(arrays), height, width), dtype=arrays[0].dtype)
    for k, array in enumerate(arrays):
        top, left = (height - array.shape[0]) // 2, (width - array.shape[1]) // 2
        out[k, top : top + array.shape[0], left : left + array.shape[1]] = array
    return out


def pack_key(dataset_json: Path, config: PreprocessConfig) -> str:
    stat = dataset_json.stat()
    text = json.dumps([str(dataset_json.resolve()), stat.st_mtime_ns, config.to_dict()])
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def pack_dataset(
    dataset: Dataset, config: PreprocessConfig, out: Path, splits=("train", "val")
) -> Path:
    """Write ``out`` (npz: images, masks, split, ids) unless it exists; returns ``out``."""
    if out.exists():
        return out
    items = [item for item in dataset.items if item.split in splits]
    images, masks = [], []
    for item in track(items, description=f"packing {dataset.name}"):
        image, mask = pack_item(item, config)
        images.append(image)
        masks.append(mask)
    arrays = {
        "images": pad_to_common_shape(images), "masks": pad_to_common_shape(masks),
        "split": np.array([i.split for i in items]), "ids": np.array([i.id for i in items]),
    }
    return atomic_write(out, lambda tmp: np.savez(tmp, **arrays))
