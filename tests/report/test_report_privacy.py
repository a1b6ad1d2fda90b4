"""A folder named like a patient never reaches the default reports (failure causes scrubbed)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from batch_dicoms import files_holding
from batch_phantoms import phantom, threshold_chain
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.cli import app
from morpho.errors import scrub

PATIENT_FOLDER = "DOE_JOHN_19450312"
SECRETS = [PATIENT_FOLDER, "DOE_JOHN", "19450312"]


def test_scrub_removes_the_file_names_and_any_absolute_path():
    cause = "cannot identify image file '/data/DOE_JOHN_19450312/a.png'; see /opt/lib/x.py"
    names = ["/data/DOE_JOHN_19450312/a.png", "DOE_JOHN_19450312/a.png", "a.png"]
    assert scrub(cause, names) == "cannot identify image file '<file>'; see <path>"
    assert scrub("32x40 px (at least 64 px a side), 1/2 of JPEG 2000/JPEG-LS", []) == (
        "32x40 px (at least 64 px a side), 1/2 of JPEG 2000/JPEG-LS"
    )


def test_a_patient_folder_name_is_not_in_the_default_report(tmp_path):
    source = tmp_path / "in"
    (source / PATIENT_FOLDER).mkdir(parents=True)
    (source / PATIENT_FOLDER / "IM00001.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (source / PATIENT_FOLDER / "IM00002.dcm").write_bytes(b"DICM" * 40)
    good = np.round(phantom(700, 400) * 255).astype(np.uint8)
    cv2.imwrite(str(source / PATIENT_FOLDER / "IM00003.png"), good)
    run_batch(items_from_input(source), tmp_path / "run", threshold_chain, workers=1,
              progress=False)  # fmt: skip
    causes = pd.read_csv(tmp_path / "run" / "failures.csv")["cause"]
    assert len(causes) == 2 and not causes.str.contains("/").any(), list(causes)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--out",
                                      str(tmp_path / "report")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not any(s in result.output for s in SECRETS)
    html = (tmp_path / "report" / "cohort.html").read_text()
    assert "cannot identify image file" in html  # the cause is shown, scrubbed
    assert files_holding(tmp_path / "report", SECRETS) == []
    named = tmp_path / "named"
    CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--out", str(named),
                             "--include-identifiers"])  # fmt: skip
    assert f"{PATIENT_FOLDER}/IM00001.png" in (named / "cohort.html").read_text()
    assert str(tmp_path) not in (named / "cohort.html").read_text()  # never the absolute path
