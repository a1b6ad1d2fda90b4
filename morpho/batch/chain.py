"""The real per-image work: read (reduced where the codec allows) -> segment -> measure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from morpho.batch.items import BatchItem
from morpho.grade import subject_calls
from morpho.io import read_radiograph
from morpho.io.reduced import Reduced, Reduction, read_reduced
from morpho.measure import EXTRA_COLUMNS, MEASUREMENT_COLUMNS, measure_mask
from morpho.pipeline import check_column, check_decode, measured_view
from morpho.preprocess import PreprocessConfig, make_transform

DECODE_MARGIN = 2  # decode at least this many times the network input's pixels


def decode_shape(shape: tuple[int, int], config: PreprocessConfig) -> tuple[int, int]:
    """The pixels (rows, columns) to decode from an image of ``shape``: ``DECODE_MARGIN``
    times what the network input takes, so that the network still sees an area-averaged
    image, as in training, rather than the decoder's own reduction."""
    rows, columns = make_transform(shape, config).content_shape
    return DECODE_MARGIN * rows, DECODE_MARGIN * columns


class SegmenterLike(Protocol):
    model_version: str
    threshold: float

    def probability_maps(self, images: list[np.ndarray]) -> list[np.ndarray]: ...

    def finish(self, mask: np.ndarray) -> np.ndarray: ...


def default_segmenter(model_path: str | None = None, threads: int | None = None) -> SegmenterLike:
    from morpho.segment.infer import Segmenter

    return Segmenter(model_path, threads=threads)


class ChainWorker:
    """Loads the model once (``threads`` inference threads); then reads, segments and
    measures one file at a time.

    With ``reduced`` (the default), JPEG 2000 DICOM and baseline JPEG files are decoded at
    the smallest power-of-two reduction that still covers the network input, and the mask is
    mapped back to original pixels before measuring. Other files take the full-size path.
    ``view`` ("ap"/"pa"/"lateral") overrides the headers; without it a frontal header is a
    failure (a chest series often holds a PA film beside the lateral). An item's own
    ``settings`` (a manifest's ``first_level``, ``view``, ``anterior``) override the run's.
    """

    def __init__(
        self,
        model_path: str | None = None,
        reduced: bool = True,
        threads: int | None = None,
        first_level: str | None = None,
        view: str | None = None,
        segmenter_factory: Callable[[str | None, int | None], SegmenterLike] = default_segmenter,
    ):
        self.segmenter = segmenter_factory(model_path, threads)
        self.reduced = reduced
        self.first_level = first_level
        self.view = view
        self.config = getattr(self.segmenter, "preprocess", None) or PreprocessConfig()

    def needed(self, shape: tuple[int, int]) -> tuple[int, int]:
        return decode_shape(shape, self.config)

    def load(self, item: BatchItem) -> Reduced:
        if self.reduced:
            found = read_reduced(item.path, self.needed)
            if found is not None:
                return found
        radiograph = read_radiograph(item.path)
        return Reduced(radiograph, Reduction(1, 0.0, radiograph.shape))

    def segment(self, loaded: Reduced) -> tuple[np.ndarray, np.ndarray]:
        """The body mask and the body probability, at the ORIGINAL size."""
        (prob,) = self.segmenter.probability_maps([loaded.radiograph.pixels])
        if loaded.reduction.factor != 1:
            prob = loaded.reduction.map_to_original(prob)
        return self.segmenter.finish(prob > self.segmenter.threshold), prob

    def process(self, item: BatchItem, loaded: Reduced) -> tuple[dict[str, Any], pd.DataFrame]:
        radiograph, reduction = loaded.radiograph, loaded.reduction
        settings = {"first_level": self.first_level, "view": self.view, **item.settings}
        view = measured_view(item.path, radiograph.view, settings["view"])
        check_decode(item.path, radiograph.pixels)
        start = time.perf_counter()
        mask, prob = self.segment(loaded)
        segmented = time.perf_counter()
        table = measure_mask(
            mask,
            spacing_mm=radiograph.spacing_mm,
            spacing_source=radiograph.spacing_source,
            view=view,
            image=radiograph.image_id,
            first_level=settings["first_level"],
            anterior=settings.get("anterior"),
            facing_hint=radiograph.facing,
            pixels=radiograph.pixels,
            probability=prob,
        )
        check_column(item.path, table, prob)
        dropped = len(table.attrs.get("dropped") or [])
        facts = {
            "image": radiograph.image_id,
            "rows": reduction.original_shape[0],
            "cols": reduction.original_shape[1],
            "decode_factor": reduction.factor,
            "segment_s": segmented - start,
            "measure_s": time.perf_counter() - segmented,
            "model_version": self.segmenter.model_version,
            "spacing_source": radiograph.spacing_source,
            "view": view,
            "qa": f"{dropped} object(s) dropped" if dropped else "ok",
            "n_vertebrae": len(table),
            "age": radiograph.age,
            "sex": radiograph.sex,
            "height_cm": radiograph.height_cm,
            "weight_kg": radiograph.weight_kg,
        }
        facts.update(film_calls(table))
        return facts, table.reindex(columns=[*MEASUREMENT_COLUMNS, *EXTRA_COLUMNS])


def film_calls(table: pd.DataFrame) -> dict[str, Any]:
    """The film-level screening result (``grade.subject_calls``) as image facts."""
    if table.empty:
        return {"gradable": 0, "plausible": 0, "worst_grade": None, "any_grade2": False,
                "sdi": 0, "driver": "", "driver_type": ""}  # fmt: skip
    calls = subject_calls(table).iloc[0]
    worst = calls["worst_grade"]
    return {
        "gradable": int(calls["gradable"]),
        "plausible": int(table["plausible"].astype(bool).sum()),
        "worst_grade": None if pd.isna(worst) else int(worst),
        "any_grade2": bool(calls["any_grade2"]),
        "sdi": int(calls["sdi"]),
        "driver": str(calls["driver"]),
        "driver_type": str(calls["driver_type"]),
    }
