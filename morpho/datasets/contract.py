"""The dataset JSON contract (docs/ARCHITECTURE.md): read, write and rasterise truth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from morpho.atomic import write_text
from morpho.errors import MorphoError

SPLITS = ("train", "val", "test")


@dataclass
class DatasetItem:
    """One image with its truth: a mask PNG, or corner landmarks (4 per body)."""

    id: str
    image: Path
    split: str
    mask: Path | None = None
    labels: Path | None = None
    landmarks: list[list[float]] | None = None
    spacing_mm: tuple[float, float] | None = None
    view: str | None = None
    fractures: dict = field(default_factory=dict)


@dataclass
class Dataset:
    name: str
    items: list[DatasetItem]
    levels: list[str] | None = None
    view: str | None = None

    def split(self, name: str) -> list[DatasetItem]:
        return [item for item in self.items if item.split == name]


def _resolve(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else base / path


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset JSON; paths become absolute (relative to the JSON's folder)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MorphoError(path, f"cannot read dataset JSON: {exc}") from exc
    base = path.parent
    items = []
    for raw in data.get("items", []):
        if raw.get("split") not in SPLITS:
            raise MorphoError(path, f"item {raw.get('id')}: split must be one of {SPLITS}")
        if not raw.get("mask") and not raw.get("landmarks"):
            raise MorphoError(path, f"item {raw.get('id')}: needs a mask or landmarks")
        spacing = raw.get("spacing_mm")
        items.append(
            DatasetItem(
                id=str(raw["id"]),
                image=_resolve(base, raw["image"]),
                split=raw["split"],
                mask=_resolve(base, raw.get("mask")),
                labels=_resolve(base, raw.get("labels")),
                landmarks=raw.get("landmarks"),
                spacing_mm=tuple(spacing) if spacing else None,
                view=raw.get("view", data.get("view")),
                fractures=raw.get("fractures") or {},
            )
        )
    return Dataset(data.get("name", path.stem), items, data.get("levels"), data.get("view"))


def write_dataset(dataset: Dataset, path: str | Path) -> None:
    """Write a dataset JSON atomically; paths are stored as given (absolute or relative)."""
    path = Path(path)
    items = []
    for item in dataset.items:
        raw = {
            "id": item.id,
            "image": str(item.image),
            "mask": str(item.mask) if item.mask else None,
            "labels": str(item.labels) if item.labels else None,
            "landmarks": item.landmarks,
            "split": item.split,
        }
        if item.spacing_mm:
            raw["spacing_mm"] = list(item.spacing_mm)
        if item.view:
            raw["view"] = item.view
        if item.fractures:
            raw["fractures"] = item.fractures
        items.append(raw)
    data = {"name": dataset.name, "format_version": 1, "view": dataset.view,
            "levels": dataset.levels, "items": items}
    write_text(path, json.dumps(data, indent=1))


def quads(landmarks: list[list[float]]) -> np.ndarray:
    """Corner landmarks -> (n_bodies, 4, 2) polygons in drawing order TL, TR, BR, BL."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 4, 2)
    return points[:, [0, 1, 3, 2]]


def instance_labels(item: DatasetItem, shape: tuple[int, int]) -> np.ndarray:
    """Per-body truth: value k for body k (cranial to caudal), 0 background.

    From the labels PNG when given, else from the landmark quads, else the connected
    components of the mask.
    """
    if item.labels is not None:
        return read_png(item.labels).astype(np.int32)
    if item.landmarks:
        out = np.zeros(shape, dtype=np.int32)
        for k, quad in enumerate(quads(item.landmarks), start=1):
            cv2.fillPoly(out, [np.round(quad * 16).astype(np.int32)], k, cv2.LINE_8, shift=4)
        return out
    _, components = cv2.connectedComponents((read_png(item.mask) > 127).astype(np.uint8))
    return components.astype(np.int32)


def truth_mask(item: DatasetItem, shape: tuple[int, int]) -> np.ndarray:
    """The binary body mask (bool) at the image's size."""
    if item.mask is not None:
        return read_png(item.mask) > 127
    return instance_labels(item, shape) > 0


def read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MorphoError(path, "cannot read image")
    return image if image.ndim == 2 else image[..., 0]
