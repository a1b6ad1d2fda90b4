"""The Python API for one file: ``measure_image`` reads it, takes its mask (a given one, a
mask file with the probability ``morpho segment`` wrote beside it, or the model's) and runs
the one per-film chain (``morpho.chain.measure_film``).

The checks the chain applies (``measured_view``, ``check_decode``, ``check_column``,
``column_problem``) live in ``morpho.chain`` and are re-exported here.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from morpho.chain import (
    FilmResult,
    FilmSettings,
    check_column,
    check_decode,
    column_problem,
    load_film,
    measure_film,
    measured_view,
    noise_share,
)
from morpho.errors import MorphoError
from morpho.io import Radiograph

__all__ = ["FilmSettings", "check_column", "check_decode", "column_problem", "measure_file",
           "measure_image", "measured_view", "noise_share", "read_mask", "read_probability"]


def read_mask(path: str | Path) -> np.ndarray:
    """A binary mask PNG (any value > 0 is body) as a boolean array."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise MorphoError(path, "cannot read the mask")
    return mask > 0


def read_probability(mask_path: str | Path, kind: str = "prob") -> np.ndarray | None:
    """The body probability (0-1) that ``morpho segment`` writes beside a mask
    (``<stem>_prob.png`` for ``<stem>_mask.png``), or with ``kind`` "core" the core
    probability of a model with a core output (``<stem>_core.png``); None when there is
    none."""
    mask_path = Path(mask_path)
    if not mask_path.name.endswith("_mask.png"):
        return None
    path = mask_path.with_name(mask_path.name[: -len("_mask.png")] + f"_{kind}.png")
    values = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
    return None if values is None else values.astype(np.float32) / 255


def default_segmenter(path: str | Path) -> object:
    """The shipped model, or one MorphoError naming ``path`` when it cannot be loaded."""
    try:
        from morpho.segment.infer import Segmenter
    except ImportError as exc:
        raise MorphoError(path, f"no segmentation model available ({exc})") from exc
    return Segmenter(spine_only=False)


def measure_file(
    path: str | Path,
    settings: FilmSettings,
    *,
    segmenter: object | None = None,
    mask: np.ndarray | str | Path | None = None,
    image: str | None = None,
) -> FilmResult:
    """``measure_film`` on one file, read whole: with ``mask`` (an array, or a mask PNG whose
    ``_prob.png`` and ``_core.png`` are used where present) or else ``segmenter`` (default:
    the shipped model). A mask PNG with its ``_prob.png`` is a model's (``morpho
    segment``): its six points come from the shipped model's landmark network, as the
    one-step path's do."""
    loaded = load_film(path, settings)
    probability = cores = landmarks = None
    if mask is None and segmenter is None:
        segmenter = default_segmenter(path)
    elif mask is not None and not isinstance(mask, np.ndarray):
        probability, cores = read_probability(mask), read_probability(mask, "core")
        mask = read_mask(mask)
        if probability is not None:
            landmarks = _shipped_landmarks()
    return measure_film(loaded, settings, segmenter, mask=mask, probability=probability,
                        cores=cores, image=image, landmarks=landmarks)  # fmt: skip


@functools.cache
def _shipped_landmarks() -> object | None:
    """The shipped model's landmark network, loaded once (None without onnxruntime)."""
    try:
        from morpho.segment.infer import default_landmarks
    except ImportError:
        return None
    return default_landmarks()


def measure_image(
    path: str | Path,
    *,
    segmenter: object | None = None,
    mask: np.ndarray | str | Path | None = None,
    first_level: str | None = None,
    anterior: str | None = None,
    view: str | None = None,
    image: str | None = None,
    last_level: str | None = None,
) -> tuple[Radiograph, np.ndarray, pd.DataFrame]:
    """Read one radiograph, segment it (or take ``mask``) and measure its vertebrae.

    ``segmenter`` is a ``Segmenter`` (or has ``.segment(pixels) -> (bool mask, probability or
    None)``); without it and without a mask the default model is loaded. A mask file keeps
    the probability ``morpho segment`` wrote beside it (``read_probability``). ``view``
    overrides the file's view ("unknown" counts as lateral; a frontal header without
    ``view`` is refused, see ``measured_view``). ``image`` names the rows (default: the
    file stem). ``first_level`` names the first whole body, or ``last_level`` the last.
    Returns the radiograph, the body mask (original size) and the measurements.
    """
    settings = FilmSettings(first_level=first_level, view=view, anterior=anterior,
                            last_level=last_level)
    result = measure_file(path, settings, segmenter=segmenter, mask=mask, image=image)
    return result.radiograph, result.mask, result.table
