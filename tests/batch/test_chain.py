"""The real chain (read -> segment -> measure) in batch, with a threshold segmenter."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from dicoms import write_dicom
from phantoms import phantom, threshold_chain

from morpho.batch import items_from_input, run_batch
from morpho.batch.outputs import SUBJECT_COLUMNS
from morpho.measure import MEASUREMENT_COLUMNS


def test_chain_reduced_decode_matches_full_decode(tmp_path):
    image = phantom(2100, 1100)
    (tmp_path / "in").mkdir()
    write_dicom(tmp_path / "in" / "film.dcm", np.round(image * 4000), j2k=True)
    cv2.imwrite(str(tmp_path / "in" / "film2.jpg"), np.round(image * 255).astype(np.uint8))
    items = items_from_input(tmp_path / "in")
    runs = {}
    for reduced in (True, False):
        out = tmp_path / f"out-{reduced}"
        factory = lambda r=reduced: threshold_chain(reduced=r)  # noqa: E731
        summary = run_batch(items, out, factory, workers=1, progress=False)
        assert summary.ok == 2
        runs[reduced] = (pd.read_parquet(out / "measurements.parquet"),
                         pd.read_parquet(out / "images.parquet"))  # fmt: skip
    (small, small_images), (full, full_images) = runs[True], runs[False]
    assert list(small_images["decode_factor"]) == [4, 4]
    assert list(full_images["decode_factor"]) == [1, 1]
    assert list(small.columns) == ["file", *MEASUREMENT_COLUMNS, *SUBJECT_COLUMNS]
    assert len(small) == len(full) == 18
    assert (small["genant_grade"].to_numpy() == full["genant_grade"].to_numpy()).all()
    points = [c for c in MEASUREMENT_COLUMNS if c.endswith(("_x", "_y"))]
    # points from the 1/4 decode land on those of the full decode, up to the mask's coarser
    # boundary (one reduced pixel is 4 original pixels)
    shift = np.abs(small[points].to_numpy() - full[points].to_numpy())
    assert np.nanmedian(shift) <= 1.5 and np.nanmax(shift) < 6.0
    assert small_images.loc[0, "spacing_source"] != "none" and small_images.loc[0, "age"] == 67
