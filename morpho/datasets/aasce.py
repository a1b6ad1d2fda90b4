"""The AASCE 2019 AP spine set (T1-L5 corner quads) as a dataset in the JSON contract."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from morpho.datasets.contract import Dataset, DatasetItem
from morpho.domain import DATASET_LEVELS
from morpho.errors import MorphoError

LEVELS = list(DATASET_LEVELS)


def patient_of(image_name: str) -> str:
    """Films of one patient share a stem ('... 162 A AP.jpg', '... 162 B AP.jpg')."""
    return re.sub(r"\s+[A-Z]+\s+AP.*$", "", Path(image_name).stem).strip()


def fixed_split() -> dict[str, str]:
    """The split shipped with morpho: image file name -> train | val | test."""
    text = resources.files("morpho.datasets").joinpath("splits/aasce.json").read_text()
    return json.loads(text)["images"]


def make_split(names: list[str], seed: int = 0, val: float = 0.1, test: float = 0.15) -> dict:
    """A patient-grouped random split (used once to write ``splits/aasce.json``)."""
    patients = sorted({patient_of(n) for n in names})
    order = np.random.default_rng(seed).permutation(len(patients))
    n_test, n_val = round(test * len(patients)), round(val * len(patients))
    part = {}
    for rank, index in enumerate(order):
        kind = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
        part[patients[index]] = kind
    return {n: part[patient_of(n)] for n in sorted(names)}


def load_aasce(root: str | Path) -> Dataset:
    """Every image of ``root`` (images/*.jpg + labels/*.mat) with its fixed split."""
    root = Path(root)
    split = fixed_split()
    items = []
    for image in sorted((root / "images").glob("*.jpg")):
        label = root / "labels" / f"{image.name}.mat"
        if image.name not in split or not label.exists():
            continue
        try:
            points = loadmat(label)["p2"].astype(float)
        except (OSError, KeyError, ValueError) as exc:
            raise MorphoError(label, f"cannot read corners: {exc}") from exc
        items.append(
            DatasetItem(
                id=image.stem, image=image, split=split[image.name],
                landmarks=points.tolist(), view="ap",
            )
        )
    return Dataset(name="aasce-ap", items=items, levels=LEVELS, view="ap")
