"""No column, no vertebrae: noise through the default model is a failure with its cause."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.batch.chain import ChainWorker
from morpho.cli import app
from morpho.pipeline import column_problem
from morpho.synth.phantom import PhantomParams, render_phantom


def _films(folder):
    folder.mkdir()
    rng = np.random.default_rng(7)
    cv2.imwrite(str(folder / "noise.png"), rng.integers(0, 65535, (800, 640), dtype=np.uint16))
    blurred = cv2.GaussianBlur(rng.random((800, 640)).astype(np.float32), (0, 0), 8)
    cv2.imwrite(str(folder / "blobs.png"), np.round(cv2.normalize(blurred, None, 0, 255,
                                                                  cv2.NORM_MINMAX)))  # fmt: skip
    cv2.imwrite(str(folder / "spine.png"), render_phantom(PhantomParams(size=(768, 640))).image)


def test_noise_is_a_failure_and_a_spine_is_measured(tmp_path):
    _films(tmp_path / "in")
    summary = run_batch(items_from_input(tmp_path / "in"), tmp_path / "out", ChainWorker,
                        workers=1, progress=False)  # fmt: skip
    causes = dict(summary.failures)
    assert set(causes) == {"noise.png", "blobs.png"} and summary.ok == 1
    assert all(c.startswith("no vertebral column found (") for c in causes.values()), causes
    measured = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    assert set(measured["file"]) == {"spine.png"} and measured["genant_grade"].notna().any()


def test_measure_cli_refuses_noise_with_one_line(tmp_path):
    _films(tmp_path / "in")
    result = CliRunner().invoke(app, ["measure", str(tmp_path / "in" / "noise.png"), "--out",
                                      str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 1 and "no vertebral column found" in result.output
    assert "Traceback" not in result.output


def test_a_mask_without_probability_is_taken_as_given():
    table = pd.DataFrame({"confidence": [np.nan] * 2, "genant_grade": [None, None]})
    assert column_problem(table) is None
