"""No column, no vertebrae: noise through the default model is a failure with its cause."""

from __future__ import annotations

import functools
from pathlib import Path

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
    assert "of the film is pixel noise" in causes["noise.png"]
    assert causes["blobs.png"].startswith("no vertebral column found ("), causes
    measured = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    assert set(measured["file"]) == {"spine.png"} and len(measured) >= 8


def test_measure_cli_refuses_noise_with_one_line(tmp_path):
    _films(tmp_path / "in")
    result = CliRunner().invoke(app, ["measure", str(tmp_path / "in" / "noise.png"), "--out",
                                      str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 1 and "100% of the film is pixel noise" in result.output
    assert "Traceback" not in result.output


def test_a_mask_without_probability_is_taken_as_given():
    table = pd.DataFrame({"confidence": [np.nan] * 2, "genant_grade": [None, None]})
    assert column_problem(table) is None


def _scrambled(path, start: float, seed: int):
    """The bundled sample (JPEG 2000) with 5000 bytes of its pixel data replaced at random."""
    sample = Path(__file__).parents[2] / "samples" / "sample_lateral.dcm"
    data = bytearray(sample.read_bytes())
    rng = np.random.default_rng(seed)
    for i in rng.choice(np.arange(int(len(data) * start), len(data) - 100), 5000, replace=False):
        data[i] = rng.integers(0, 256)
    path.write_bytes(bytes(data))
    return path


def test_a_garbled_jpeg2000_is_a_failure(tmp_path):
    (tmp_path / "in").mkdir()
    for start, seed in ((0.02, 3), (0.05, 2), (0.2, 1)):
        _scrambled(tmp_path / "in" / f"scrambled{start}.dcm", start, seed)
    for full in (False, True):
        summary = run_batch(items_from_input(tmp_path / "in"), tmp_path / f"out{full}",
                            functools.partial(ChainWorker, reduced=not full), workers=1,
                            progress=False)  # fmt: skip
        assert summary.failed == 3, summary.failures
        assert all("pixel noise" in cause for _, cause in summary.failures)
