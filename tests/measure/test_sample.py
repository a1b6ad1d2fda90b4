"""The bundled sample through the README's main path: one grade-2 wedge at T12."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SAMPLE = Path(__file__).parents[2] / "samples" / "sample_lateral.dcm"


def test_the_sample_has_exactly_one_fracture_t12_grade_2():
    pytest.importorskip("onnxruntime")
    from morpho.pipeline import measure_image

    _, _, df = measure_image(SAMPLE, first_level="T2")
    called = df[df["genant_grade"].fillna(0) >= 1]
    assert called[["level", "genant_grade", "genant_type"]].values.tolist() == [
        ["T12", 2, "wedge"]]
    truth = pd.read_csv(SAMPLE.with_name("sample_lateral_truth.csv"))
    m = truth.merge(df[df["genant_grade"].notna()], on="level", suffixes=("_true", ""))
    cols = ["ha_px", "hm_px", "hp_px"]
    error = np.abs(m[cols].to_numpy() / m[[f"{c}_true" for c in cols]].to_numpy() - 1)
    assert len(m) >= 10 and np.median(error) < 0.03
    # every height within 5% (the landmark network; from the outline, T2's Hp was 13% short)
    assert error.max() < 0.05
    assert (df["points_source"] == "landmarks").all()
