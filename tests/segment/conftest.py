"""Tiny generated radiograph-like images with box 'bodies', as a dataset JSON."""

import cv2
import numpy as np
import pytest

from morpho.datasets.contract import Dataset, DatasetItem, write_dataset


def make_image(rng: np.random.Generator, size=(96, 64)) -> tuple[np.ndarray, np.ndarray]:
    h, w = size
    mask = np.zeros(size, np.uint8)
    x = int(rng.integers(18, 30))
    for y in range(8, h - 16, 16):
        cv2.rectangle(mask, (x, y), (x + 16, y + 10), 255, -1)
    image = 60 + 120 * (mask > 0) + rng.normal(0, 12, size)
    return np.clip(image, 0, 255).astype(np.uint8), mask


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    items = []
    for i in range(14):
        image, mask = make_image(rng)
        cv2.imwrite(str(root / f"img{i}.png"), image)
        cv2.imwrite(str(root / f"img{i}_mask.png"), mask)
        split = "train" if i < 10 else "val" if i < 12 else "test"
        items.append(DatasetItem(f"img{i}", f"img{i}.png", split, mask=f"img{i}_mask.png"))
    write_dataset(Dataset("tiny", items), root / "dataset.json")
    return str(root / "dataset.json")
