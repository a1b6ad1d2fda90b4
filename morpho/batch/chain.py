"""The batch worker: the one per-film chain (``morpho.chain``) with a model loaded once, and
the film's stored files (``morpho.stored``) written where the run asks for them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from morpho.batch.items import BatchItem
from morpho.chain import (
    DECODE_MARGIN,
    FilmResult,
    FilmSettings,
    SegmenterLike,
    decode_shape,
    film_calls,
    load_film,
    measure_film,
    segment_film,
)
from morpho.io.reduced import Reduced
from morpho.preprocess import PreprocessConfig

__all__ = ["DECODE_MARGIN", "ChainWorker", "decode_shape", "default_segmenter", "film_calls",
           "model_sha256"]


def default_segmenter(model_path: str | None = None, threads: int | None = None) -> SegmenterLike:
    from morpho.segment.infer import Segmenter

    return Segmenter(model_path, threads=threads, spine_only=False)


def model_sha256(model_path: str | Path | None) -> str:
    """SHA-256 of the ONNX model file (the shipped one for None)."""
    from morpho.segment.infer import default_model_path

    path = Path(model_path) if model_path else default_model_path()
    return hashlib.sha256(path.with_suffix(".onnx").read_bytes()).hexdigest()


class ChainWorker:
    """Loads the model once (``threads`` inference threads); then reads, segments and
    measures one file at a time with ``morpho.chain.measure_film``.

    ``reduced`` (the default; decoded at the model JSON's ``"decode_margin"``, else
    ``DECODE_MARGIN``, times the network input), ``first_level`` or ``last_level``, ``view``
    and ``anterior`` make the run's ``FilmSettings``; an item's own ``settings`` (a
    manifest's ``SETTING_COLUMNS``) override them. With ``run_dir`` set (the
    runner sets it to the run folder), each measured film's files are written for the run
    to keep: the body label map and, for DICOM inputs, the de-identified header always;
    the film copy unless ``pictures`` is False, and the overlay with ``overlays``.
    """

    def __init__(
        self,
        model_path: str | None = None,
        reduced: bool = True,
        threads: int | None = None,
        first_level: str | None = None,
        view: str | None = None,
        segmenter_factory: Callable[[str | None, int | None], SegmenterLike] = default_segmenter,
        anterior: str | None = None,
        pictures: bool = True,
        overlays: bool = False,
        last_level: str | None = None,
    ):
        self.segmenter = segmenter_factory(model_path, threads)
        self.settings = FilmSettings(first_level, view, anterior, reduced, last_level)
        self.pictures = pictures
        self.overlays = overlays
        self.config = getattr(self.segmenter, "preprocess", None) or PreprocessConfig()
        model_config = getattr(self.segmenter, "config", None)
        self.margin = int((model_config if isinstance(model_config, dict) else {})
                          .get("decode_margin", DECODE_MARGIN))  # fmt: skip
        self.model_sha256 = (model_sha256(model_path) if segmenter_factory is default_segmenter
                             else getattr(self.segmenter, "model_sha256", None))  # fmt: skip
        self.run_dir: Path | None = None

    def needed(self, shape: tuple[int, int]) -> tuple[int, int]:
        return decode_shape(shape, self.config, self.margin)

    def load(self, item: BatchItem) -> Reduced:
        return load_film(item.path, self.settings, self.config, self.margin)

    def segment(self, loaded: Reduced):
        """The body mask and the body probability, at the ORIGINAL size."""
        return segment_film(self.segmenter, loaded)

    def process(self, item: BatchItem, loaded: Reduced) -> tuple[dict[str, Any], pd.DataFrame]:
        result = measure_film(loaded, self.settings.over(item.settings), self.segmenter)
        if self.run_dir is not None:
            self._store(item, result)
        return {**result.facts(), "model_sha256": self.model_sha256}, result.table

    def _store(self, item: BatchItem, result: FilmResult) -> None:
        from morpho.io.reader import file_kind
        from morpho.report.overlay import display_film, overlay_image
        from morpho.stored import FILM_SIDE, OVERLAY_SIDE, stage_film, staging_folder

        labels = result.labels()
        film = overlay = None
        if self.pictures:
            film = display_film(result.radiograph.pixels, FILM_SIDE)
            if self.overlays:
                overlay = overlay_image(film, result.table, result.shape, OVERLAY_SIDE, labels,
                                        legend=True)
        source = item.path if file_kind(item.path) == "dicom" else None
        stage_film(staging_folder(self.run_dir, item.key), labels, film, overlay, source)
