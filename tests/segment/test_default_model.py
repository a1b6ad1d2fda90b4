"""The shipped default model: found by Segmenter(), and `morpho segment` on the bundled sample."""

import cv2
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from morpho.cli import app
from morpho.resources import models_dir
from morpho.segment.infer import DEFAULT_MODEL, Segmenter

SAMPLE = models_dir().parent / "samples" / "sample_lateral.dcm"


def test_default_model_is_shipped_small_and_loads():
    onnx = models_dir() / DEFAULT_MODEL
    assert onnx.exists() and onnx.stat().st_size <= 20e6
    assert onnx.with_suffix(".json").exists() and onnx.with_suffix(".safetensors").exists()
    segmenter = Segmenter(threads=1)
    assert segmenter.model_version
    mask = segmenter.predict(np.zeros((300, 200), np.float32))
    assert mask.shape == (300, 200) and mask.dtype == bool


def test_segment_bundled_sample_end_to_end(tmp_path):
    """The sample's mask holds its vertebral bodies: the centre of nearly every body of
    its truth inside the mask, one component per body or so (an empty or blotted mask
    fails)."""
    source = SAMPLE
    result = CliRunner().invoke(app, ["segment", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    mask = cv2.imread(str(tmp_path / "out" / f"{source.stem}_mask.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask)) <= {0, 255}
    overlay = cv2.imread(str(tmp_path / "out" / f"{source.stem}_overlay.png"))
    assert overlay is not None and overlay.ndim == 3
    prob = cv2.imread(str(tmp_path / "out" / f"{source.stem}_prob.png"), cv2.IMREAD_UNCHANGED)
    assert prob.shape == mask.shape and prob.dtype == np.uint8
    from morpho.io import read_radiograph

    assert mask.shape == read_radiograph(source).pixels.shape
    truth = pd.read_csv(SAMPLE.with_name("sample_lateral_truth.csv")).query("complete")
    inside = mask[truth["cy"].round().astype(int), truth["cx"].round().astype(int)] > 0
    assert inside.mean() >= 0.8, f"{inside.sum()} of {len(truth)} body centres in the mask"
    components = cv2.connectedComponents((mask > 0).astype(np.uint8))[0] - 1
    assert len(truth) - 4 <= components <= len(truth) + 4
    assert (mask > 0).mean() < 0.15  # bodies, not the film


def test_missing_model_and_bad_file_report_one_line(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\x00" * 300)
    runner = CliRunner()
    result = runner.invoke(app, ["segment", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "bad.dcm" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["segment", str(bad), "--model", str(tmp_path / "none.onnx")])
    assert result.exit_code == 1 and "model not found" in result.output


def test_segment_keeps_what_the_labelling_keeps_unless_asked_for_all_objects():
    from morpho.io import read_radiograph
    from morpho.label import spine_only

    pixels = read_radiograph(SAMPLE).pixels
    raw = Segmenter(threads=1, spine_only=False).predict(pixels)
    clean = Segmenter(threads=1).predict(pixels)
    assert clean.any() and not (clean & ~raw).any()
    assert np.array_equal(clean, spine_only(raw))
