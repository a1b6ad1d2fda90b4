"""A generated image with its truth, and the folder writer (images, masks, truth, dataset JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from morpho.atomic import write_png, write_text
from morpho.synth import DATASET_LEVELS
from morpho.synth.truth import truth_table


@dataclass
class Synthetic:
    """One synthetic radiograph. ``labels`` value k is ``DATASET_LEVELS[k-1]``."""

    image: np.ndarray  # uint16, bone bright
    labels: np.ndarray  # uint8 instance image
    truth: pd.DataFrame  # truth.csv rows (image column filled by the writer)
    pixel_mm: float | None  # at the detector
    magnification: float
    view: str = "lateral"
    facing: str = "left"
    fractures: dict[str, dict] = field(default_factory=dict)
    source: str = ""

    @property
    def mask(self) -> np.ndarray:
        return self.labels > 0


class SetWriter:
    """Writes a set into one folder: images/, masks/, labels/, truth.csv, dataset.json."""

    def __init__(self, out: str | Path, name: str, view: str = "lateral", dicom: bool = False):
        self.out = Path(out)
        self.name, self.view, self.dicom = name, view, dicom
        for sub in ("images", "masks", "labels"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.items: list[dict] = []
        self.truth: list[pd.DataFrame] = []

    def add(self, image_id: str, synth: Synthetic, split: str = "train") -> None:
        image = f"images/{image_id}.{'dcm' if self.dicom else 'png'}"
        if self.dicom:  # ImagerPixelSpacing at the detector, with the magnification
            from morpho.io.writer import write_dicom

            write_dicom(self.out / image, synth.image.astype(np.uint16),
                        spacing_mm=synth.pixel_mm, magnification=synth.magnification,
                        view=synth.view, facing=synth.facing)
        else:
            write_png(self.out / image, synth.image.astype(np.uint16))
        write_png(self.out / "masks" / f"{image_id}_mask.png",
                    np.where(synth.mask, 255, 0).astype(np.uint8))
        write_png(self.out / "labels" / f"{image_id}_labels.png", synth.labels.astype(np.uint8))
        truth = synth.truth.copy()
        truth["image"] = image_id
        self.truth.append(truth)
        spacing = [synth.pixel_mm, synth.pixel_mm] if synth.pixel_mm else None
        self.items.append({
            "id": image_id, "image": image,
            "mask": f"masks/{image_id}_mask.png", "labels": f"labels/{image_id}_labels.png",
            "landmarks": None, "split": split, "spacing_mm": spacing, "view": synth.view,
            "facing": synth.facing, "magnification": round(synth.magnification, 4),
            "source": synth.source, "fractures": synth.fractures,
        })

    def close(self) -> None:
        """Write ``truth.csv`` and ``dataset.json`` (atomically)."""
        frames = [t for t in self.truth if not t.empty]
        table = pd.concat(frames, ignore_index=True) if frames else truth_table([])
        write_text(self.out / "truth.csv", table.to_csv(index=False, float_format="%.3f"))
        dataset = {"name": self.name, "format_version": 1, "view": self.view,
                   "levels": DATASET_LEVELS, "items": self.items}
        write_text(self.out / "dataset.json", json.dumps(dataset, indent=1))
