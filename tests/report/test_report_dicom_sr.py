"""`morpho report --dicom-sr`: a TID 1500 SR per DICOM film, read back with highdicom."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import highdicom as hd
import pandas as pd
import pydicom
import pytest
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.batch.chain import ChainWorker
from morpho.cli import app
from morpho.review import Correction, load_corrections
from morpho.review.corrections import append_correction
from morpho.synth.phantom import PhantomParams, render_phantom

SAMPLE = Path(__file__).parents[2] / "samples" / "sample_lateral.dcm"
NAME, PATIENT_ID = "Doe^Jane", "MRN-0042"


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory) -> Path:
    """A run over the sample, given a patient's name, id and dates, and a PNG phantom."""
    root = tmp_path_factory.mktemp("sr")
    (root / "in").mkdir()
    film = pydicom.dcmread(SAMPLE)
    film.PatientName, film.PatientID = NAME, PATIENT_ID
    film.PatientBirthDate, film.StudyDate, film.AccessionNumber = "19580101", "20260102", "A77"
    film.save_as(root / "in" / "film.dcm")
    image = render_phantom(PhantomParams(size=(768, 640))).image
    cv2.imwrite(str(root / "in" / "phantom.png"), image)
    summary = run_batch(items_from_input(root / "in"), root / "run", ChainWorker, workers=1,
                        progress=False)  # fmt: skip
    assert summary.ok == 2
    return root


def _groups(path: Path) -> dict[str, dict]:
    """Per tracked vertebra: its measurements, evaluations and region's referenced UID."""
    sr = hd.sr.srread(path)
    out = {}
    for group in sr.content.get_planar_roi_measurement_groups():
        values = {m.name.value: (m.value, m.unit.value) for m in group.get_measurements()}
        values |= {e.name.value: e.value.meaning for e in group.get_qualitative_evaluations()}
        region = group.roi
        image = region.ContentSequence[0].ReferencedSOPSequence[0]
        values["source"] = image.ReferencedSOPInstanceUID
        values["outline"] = region.value
        out[group.tracking_identifier] = values
    return out


def _expected_label(row: pd.Series) -> str:
    return row["level"] if isinstance(row["level"], str) and row["level"] else f"#{row['index']}"


def test_sr_reads_back_with_the_run_values_and_no_identifiers(sr_run, tmp_path):
    run = sr_run / "run"
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "r"),
                                      "--dicom-sr"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "r" / "sr").iterdir()) == ["film_sr.dcm"]
    path = tmp_path / "r" / "sr" / "film_sr.dcm"
    source, sr = pydicom.dcmread(sr_run / "in" / "film.dcm"), pydicom.dcmread(path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.StudyInstanceUID == source.StudyInstanceUID and sr.PatientName == ""
    raw = path.read_bytes()
    assert all(s.encode() not in raw for s in (NAME, PATIENT_ID, "19580101", "20260102", "A77"))
    groups = _groups(path)
    table = pd.read_parquet(run / "measurements.parquet")
    film = table[table["file"] == "film.dcm"]
    assert len(groups) == len(film) >= 13
    for _, row in film.iterrows():
        got = groups[_expected_label(row)]
        assert got["source"] == source.SOPInstanceUID
        assert got["outline"][0] == pytest.approx([row["ant_sup_x"] + 0.5,
                                                   row["ant_sup_y"] + 0.5], abs=1e-3)  # fmt: skip
        for key in ("HA", "HM", "HP"):
            assert got[key] == (pytest.approx(row[f"{key.lower()}_mm"], abs=0.005), "mm")
        for key in ("WEDGE", "BICONCAVE", "CRUSH"):
            assert got[key][0] == pytest.approx(row[f"{key.lower()}_ratio"], abs=5e-5)
        grade = row["genant_grade"]
        assert got["GENANT-GRADE"] == ("Genant ungradable" if pd.isna(grade)
                                       else f"Genant grade {int(grade)}")  # fmt: skip
        assert got["GENANT-TYPE"] == row["genant_type"]
    if shutil.which("dciodvfy"):  # Debian's dicom3tools: no errors
        check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        assert "Error" not in check.stdout + check.stderr, check.stderr


def test_sr_with_identifiers_seg_reference_and_corrections(sr_run, tmp_path):
    run = Path(shutil.copytree(sr_run / "run", tmp_path / "run"))
    film = pd.read_parquet(run / "measurements.parquet").query("file == 'film.dcm'")
    wedge = int(film[film["genant_grade"] == 2]["index"].iloc[0])
    change = Correction("film.dcm", "not_gradable", wedge, reader="R").checked(film)
    append_correction(run, load_corrections(run), change)
    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(out), "--dicom-seg",
                                      "--dicom-sr", "--include-identifiers"])  # fmt: skip
    assert result.exit_code == 0, result.output
    sr, seg = pydicom.dcmread(out / "sr" / "film_sr.dcm"), pydicom.dcmread(out / "seg" /
                                                                           "film_seg.dcm")
    assert str(sr.PatientName) == NAME and sr.PatientID == PATIENT_ID
    evidence = {i.ReferencedSOPInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence
                for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence}
    assert seg.SOPInstanceUID in evidence
    row = film[film["index"] == wedge].iloc[0]
    assert _groups(out / "sr" / "film_sr.dcm")[row["level"] or f"#{wedge}"]["GENANT-GRADE"] == (
        "Genant ungradable")
