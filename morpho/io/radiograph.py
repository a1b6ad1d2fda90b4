"""The typed result of reading a radiograph."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

View = Literal["lateral", "ap", "pa", "unknown"]


@dataclass
class Radiograph:
    """A radiograph as the later stages need it.

    ``pixels`` is a 2-D ``float32`` array in [0, 1] in which bone is bright (display
    orientation: the modality LUT/rescale, the first VOI LUT or window and MONOCHROME1
    inversion are already applied). Full precision is kept: float32 holds 24 bits, more than
    any stored radiograph. 8/16-bit PNG, JPEG and TIFF values are divided by their type's
    maximum; DICOM without a VOI is stretched over its own min..max ("full range").

    ``spacing_mm`` is (row, column) in mm or ``None``; ``spacing_source`` names the rule
    that gave it (see :mod:`morpho.io.spacing`). ``image_id`` is the file stem. No names,
    ids, dates, accession numbers or institution are ever stored.
    """

    pixels: np.ndarray
    spacing_mm: tuple[float, float] | None = None
    spacing_source: str = "none"
    view: View = "unknown"
    facing: Literal["left", "right"] | None = None
    age: float | None = None
    sex: Literal["M", "F", "O"] | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    modality: str | None = None
    manufacturer: str | None = None
    body_part: str | None = None
    photometric: str = "MONOCHROME2"
    bits_stored: int = 8
    path: str = ""
    image_id: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the image."""
        return self.pixels.shape[0], self.pixels.shape[1]

    def to_dict(self) -> dict[str, object]:
        """The non-identifying metadata (everything but the pixels), JSON-ready."""
        out: dict[str, object] = {"image_id": self.image_id, "path": self.path}
        out["rows"], out["columns"] = self.shape
        for f in fields(self):
            if f.name in ("pixels", "image_id", "path"):
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out
