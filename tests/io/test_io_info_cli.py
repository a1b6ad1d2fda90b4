"""`morpho info` end to end: good and bad files in one call, JSON/CSV/table, no identifiers."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pandas as pd
import pytest
from dicom_factory import IDENTIFIERS, ramp
from typer.testing import CliRunner

from morpho.cli import app


@pytest.fixture
def cohort(tmp_path, dicom_file):
    dicom_file(
        name="lat.dcm", ViewPosition="LL", PatientAge="071Y", PatientSex="F", PatientSize=1.6,
        ImagerPixelSpacing=[0.2, 0.2], EstimatedRadiographicMagnificationFactor=1.25,
        **IDENTIFIERS,
    )  # fmt: skip
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "sub" / "film.png"), (ramp() * 16).astype(np.uint16))
    cv2.imwrite(str(tmp_path / "sub" / "flat.png"), np.zeros((96, 80), np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")  # skipped: not an image suffix
    (tmp_path / "notes.dcm").write_text("not an image")
    return tmp_path


def _run(*args):
    result = CliRunner().invoke(app, ["info", *map(str, args)])
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_json_good_and_bad_files(cohort):
    result = _run("--json", cohort)
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [r["file"].split("/")[-1] for r in rows] == ["lat.dcm", "film.png"]
    lateral, film = rows
    assert lateral["spacing_mm"] == pytest.approx([0.16, 0.16])
    assert "magnification corrected" in lateral["spacing_source"]
    assert (lateral["view"], lateral["age"], lateral["sex"], lateral["height_cm"]) == (
        "lateral", 71.0, "F", 160.0,
    )  # fmt: skip
    assert (film["bits_stored"], film["spacing_mm"], film["rows"]) == (16, None, 96)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {cohort / 'notes.dcm'}: corrupt or not DICOM: no pixel data and no SOP class",
        f"error: {cohort / 'sub' / 'flat.png'}: constant image (every pixel is 0)",
    ]
    assert "2 of 4 file(s) failed" in result.stderr  # notes.txt was not an image suffix
    for value in IDENTIFIERS.values():
        assert value not in result.stdout + result.stderr


def test_csv_and_table(cohort):
    good = [cohort / "lat.dcm", cohort / "sub" / "film.png"]
    result = _run("--csv", *good)
    assert result.exit_code == 0 and result.stderr == ""
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table["view"]) == ["lateral", "unknown"]
    assert table.loc[0, "spacing_mm"] == "0.16 0.16"
    result = _run(*good)
    assert result.exit_code == 0
    assert "lat.dcm" in result.stdout and "80x96" in result.stdout and "lateral" in result.stdout


def test_usage_errors(cohort):
    assert _run("--json", "--csv", cohort).exit_code == 1
    result = _run(cohort / "nothing-here", cohort / "notes.txt")
    assert result.exit_code == 1 and "cannot read file" in result.stderr
    assert f"error: {cohort / 'notes.txt'}: not an image file" in result.stderr


@pytest.mark.parametrize("command", ["info", "segment", "measure", "batch"])
def test_a_folder_without_radiographs_is_one_error_for_every_command(tmp_path, command):
    (tmp_path / "films").mkdir()
    (tmp_path / "films" / "notes.txt").write_text("not an image")
    args = [command, str(tmp_path / "films")]
    if command != "info":
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "no radiograph files found" in result.output
    assert not (tmp_path / "out" / "measurements.csv").exists()
