"""Make ``samples/sample_lateral.dcm``: a synthetic lateral chest radiograph, no patient data.

    python analysis/make_sample.py [--out samples/sample_lateral.dcm]

The image is a phantom from ``morpho.synth.phantom`` (one grade-2 wedge fracture at T12);
its exact 6-point truth is written beside it as ``sample_lateral_truth.csv`` (heights in
mm in the patient plane). The header carries detector spacing, magnification, view,
facing, age, sex and height, and no identifiers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from morpho.atomic import write_text
from morpho.io import read_radiograph, write_dicom
from morpho.synth.fractures import Fracture
from morpho.synth.phantom import PhantomParams, render_phantom

SIZE = 1024
OBJECT_SPACING_MM = 0.35  # in the patient's mid-plane
MAGNIFICATION = 1.15
DETECTOR_SPACING_MM = OBJECT_SPACING_MM * MAGNIFICATION
BITS = 12


def sample_image(size: int = SIZE, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """A synthetic lateral thoracolumbar film from morpho's phantom, facing left, with a
    moderate (grade 2) wedge fracture at T12. Returns the uint16 image and its 6-point truth."""
    params = PhantomParams(
        size=(size, size), pixel_mm=OBJECT_SPACING_MM, top_level="T2", kyphosis_deg=45,
        facing="left", shoulders=1.2, fractures={"T12": Fracture("wedge", 2, 0.32)},
        texture_seed=seed,
    )  # fmt: skip
    synthetic = render_phantom(params)
    image = synthetic.image.astype(np.float64)
    image = np.round(image / image.max() * (2**BITS - 1)).astype(np.uint16)
    return image, synthetic.truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("samples/sample_lateral.dcm"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image, truth = sample_image()
    write_dicom(
        args.out, image, spacing_mm=DETECTOR_SPACING_MM, magnification=MAGNIFICATION,
        view="lateral", facing="left", age=68, sex="F", height_cm=158, weight_kg=62,
        bits_stored=BITS, compression="jpeg2000",
    )  # fmt: skip
    truth = truth.assign(image=args.out.stem)
    write_text(args.out.with_name(f"{args.out.stem}_truth.csv"),
               truth.to_csv(index=False, float_format="%.2f"))
    image = read_radiograph(args.out)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, {image.shape[1]}x{image.shape[0]},"
          f" spacing {image.spacing_mm} mm ({image.spacing_source})")  # fmt: skip


if __name__ == "__main__":
    main()
