"""`morpho batch` end to end: the real Segmenter (a tiny ONNX threshold model), 2 workers."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
from batch_dicoms import write_dicom
from batch_phantoms import phantom, write_threshold_onnx

pytest.importorskip("onnx")

MORPHO = [sys.executable, "-c", "from morpho.cli import main; main()"]


def test_batch_command_writes_tables_and_reports_bad_files(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    write_dicom(source / "a.dcm", np.round(phantom(2200, 1200) * 4000), j2k=True)
    cv2.imwrite(str(source / "b.jpg"), np.round(phantom(2200, 1200, seed=1) * 255).astype(np.uint8))
    (source / "c.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    model = write_threshold_onnx(tmp_path / "model")
    command = [*MORPHO, "batch", str(source), "--out", str(tmp_path / "out"), "--model",
               str(model), "--workers", "2"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "error: c.png: " in result.stderr and "Traceback" not in result.stderr
    images = pd.read_parquet(tmp_path / "out" / "images.parquet")
    assert list(images["status"]) == ["ok", "ok", "failed"]
    assert list(images["decode_factor"][:2]) == [2, 2]  # J2K levels and JPEG DCT scaling
    assert set(images["model_version"].dropna()) == {"onnx-threshold-test"}
    measurements = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    assert measurements.groupby("file").size().to_dict() == {"a.dcm": 9, "b.jpg": 9}
