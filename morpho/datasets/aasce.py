"""The AASCE 2019 AP spine set (T1-L5 corner quads) as a dataset in the JSON contract."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from scipy.io import loadmat
from skimage.draw import polygon

from morpho.datasets.contract import Dataset, DatasetItem, quads
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
        points = read_corners(label)
        items.append(
            DatasetItem(
                id=image.stem, image=image, split=split[image.name],
                landmarks=points.tolist(), view="ap",
            )
        )
    return Dataset(name="aasce-ap", items=items, levels=LEVELS, view="ap")


def read_corners(label: str | Path) -> np.ndarray:
    """The corner points (68, 2: 17 bodies x TL, TR, BL, BR, in x, y pixels) of one
    ``labels/<image>.mat``; ``contract.quads`` makes them polygons."""
    try:
        return loadmat(label)["p2"].astype(float)
    except (OSError, KeyError, ValueError) as exc:
        raise MorphoError(label, f"cannot read corners: {exc}") from exc


def read_quads(label: str | Path) -> np.ndarray:
    """The annotated bodies of one ``labels/<image>.mat`` as (17, 4, 2) polygons TL, TR,
    BR, BL in (x, y) pixels, in the file's order (some files list L5 first: ``by_y``)."""
    return quads(read_corners(label))


def fill_quads(corners: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The pixels whose centres lie inside a quad. Not ``contract.instance_labels`` (the
    training truth): its ``cv2.fillPoly`` also takes the pixels the outline touches, +1.8%
    area on the AASCE test part; measured, that biased Hm by +1% (median error 0.31% ->
    0.99%) and merged two more pairs of touching quads (466 against 468 of 481 images
    T1..L5), 2026-12-04."""
    mask = np.zeros(shape, bool)
    for q in corners:
        rr, cc = polygon(q[:, 1], q[:, 0], shape)
        mask[rr, cc] = True
    return mask


def midline_heights(corners: np.ndarray) -> np.ndarray:
    """Each quad's height between the midpoints of its top and bottom edges."""
    top = 0.5 * (corners[:, 0] + corners[:, 1])
    bottom = 0.5 * (corners[:, 3] + corners[:, 2])
    return np.linalg.norm(top - bottom, axis=1)


def by_y(corners: np.ndarray) -> np.ndarray:
    """Quads ordered cranial to caudal (some files list L5 first), so index k is level k."""
    return corners[np.argsort(corners.mean(axis=1)[:, 1])]


def annotation_defect(corners: np.ndarray) -> str:
    """Why an image's annotation cannot give one separate body per quad (a degenerate,
    twisted or largely overlapping quadrilateral), or ''."""
    heights = midline_heights(corners)
    if heights.max() > 4 * np.median(heights) or heights.min() < 0.25 * np.median(heights):
        return "a degenerate quadrilateral"
    quad = [c.astype(np.float32) for c in corners]
    for k, q in enumerate(quad):
        if not cv2.isContourConvex(q):
            return f"body {k + 1} is a twisted (self-crossing) quadrilateral"
    for k in range(len(quad)):
        for j in range(k + 1, len(quad)):
            shared, _ = cv2.intersectConvexConvex(quad[k], quad[j])
            if shared > 0.3 * min(cv2.contourArea(quad[k]), cv2.contourArea(quad[j])):
                return f"bodies {k + 1} and {j + 1} overlap by >30%"
    return ""
