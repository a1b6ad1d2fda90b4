"""Reports from a batch run: content, self-containment, privacy, DICOM-SEG."""

from __future__ import annotations

import re
import shutil

import cv2
import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
import pytest
from batch_dicoms import PATIENT_ID, PATIENT_NAME, files_holding, write_dicom
from batch_phantoms import phantom, threshold_chain
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.cli import app
from morpho.report import write_cohort_report, write_subject_reports
from morpho.report.html import BatchTables

SECRETS = [PATIENT_NAME, PATIENT_ID, "Zyxwv", "Qutsrponm", PATIENT_ID.split("-")[1]]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A batch run over two DICOMs with patient name and id set, a PNG and a broken file."""
    root = tmp_path_factory.mktemp("cohort")
    source = root / "in"
    source.mkdir()
    write_dicom(source / "a.dcm", np.round(phantom(1200, 640) * 4000), j2k=True)
    write_dicom(source / "b.dcm", np.round(phantom(700, 400, wedge_at=2, seed=1) * 4000))
    cv2.imwrite(str(source / "c.png"), np.round(phantom(700, 400, seed=2) * 255).astype(np.uint8))
    (source / "d.dcm").write_bytes(b"DICM" * 40)
    run_batch(items_from_input(source), root / "batch", threshold_chain, workers=1,
              progress=False)  # fmt: skip
    return root


def _leaks(folder) -> list[str]:
    return files_holding(folder, SECRETS)


def test_default_outputs_hold_no_patient_identifiers(run):
    tables = BatchTables.load(run / "batch")
    pages = write_subject_reports(tables, run / "report" / "subjects", progress=False)
    write_cohort_report(tables, run / "report" / "cohort.html")
    assert len(pages) == 4
    assert _leaks(run / "batch") == [] and _leaks(run / "report") == []
    shown = write_subject_reports(tables, run / "shown", include_identifiers=True, progress=False)
    assert PATIENT_ID in shown[0][1].read_text()  # the check would catch a leak


def test_reports_are_self_contained_and_complete(run):
    tables = BatchTables.load(run / "batch")
    pages = write_subject_reports(tables, run / "r2", progress=False)
    cohort = write_cohort_report(tables, run / "r2" / "cohort.html", links=[("Subject 1", "x")])
    for path in [cohort, *(p for _, p in pages)]:
        html = path.read_text()
        assert "Research use" in html and "not a diagnosis" in html
        assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
        assert "<script" not in html and "<link" not in html
    first = pages[0][1].read_text()
    assert first.count("data:image/png;base64,") == 1
    assert "#6: Genant grade 2" in first and "threshold-test" in first
    assert "film result" in first and "deformity grade 2 (wedge) at #6" in first
    assert "classList.toggle('full')" in first  # the film enlarges on click
    assert pages[3][1].read_text().count("not measured") == 1  # the broken file
    cohort_html = cohort.read_text()
    assert "1 (25.0%)" in cohort_html  # one of four failed
    assert cohort_html.count("data:image/png;base64,") >= 3


def test_report_cli_defaults(run):
    result = CliRunner().invoke(app, ["report", str(run / "batch"), "--out", str(run / "cli")])
    assert result.exit_code == 0, result.output
    assert (run / "cli" / "cohort.html").exists() and _leaks(run / "cli") == []


def test_dicom_seg_references_its_source_and_is_de_identified(run):
    result = CliRunner().invoke(app, ["report", str(run / "batch"), "--out", str(run / "s"),
                                      "--dicom-seg"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (run / "s" / "seg").iterdir()) == ["a_seg.dcm", "b_seg.dcm"]
    path, source = run / "s" / "seg" / "a_seg.dcm", run / "in" / "a.dcm"
    seg, image = hd.seg.segread(path), pydicom.dcmread(source)
    referenced = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0]
    assert referenced.ReferencedSOPInstanceUID == image.SOPInstanceUID
    assert seg.StudyInstanceUID == image.StudyInstanceUID
    assert str(seg.PatientName) == "" and _leaks(run / "s") == []
    mask = seg.get_pixels_by_source_instance([image.SOPInstanceUID],
                                             combine_segments=True)[0] > 0  # fmt: skip
    truth = image.pixel_array > 2000
    assert mask.shape == truth.shape and (mask & truth).sum() / (mask | truth).sum() > 0.97


def test_cli_batch_then_report_with_defaults_leak_nothing(tmp_path):
    pytest.importorskip("onnx")
    import subprocess
    import sys

    from batch_phantoms import write_threshold_onnx

    source = tmp_path / "in"
    source.mkdir()
    write_dicom(source / "film.dcm", np.round(phantom(900, 500) * 4000), j2k=True)
    model = write_threshold_onnx(tmp_path / "model")
    morpho = [sys.executable, "-c", "from morpho.cli import main; main()"]
    steps = [["batch", str(source), "--out", str(tmp_path / "run"), "--model", str(model),
              "--workers", "1"],
             ["report", str(tmp_path / "run"), "--out", str(tmp_path / "report")]]  # fmt: skip
    for step in steps:
        result = subprocess.run([*morpho, *step], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert not any(s in result.stdout + result.stderr for s in SECRETS)
    assert (tmp_path / "report" / "cohort.html").exists()
    assert _leaks(tmp_path / "run") == [] and _leaks(tmp_path / "report") == []


def test_one_report_per_subject_from_a_manifest(tmp_path):
    import pandas as pd

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):  # the third film has no wedged body
        image = np.round(phantom(700, 400, wedge_at=5 if i < 2 else 99, seed=i) * 255)
        image = image.astype(np.uint8)
        cv2.imwrite(str(folder / f"f{i}.png"), image)
    manifest = tmp_path / "m.csv"
    rows = {"path": [f"imgs/f{i}.png" for i in range(3)], "subject_id": ["S-77", "S-77", "S-88"]}
    pd.DataFrame(rows).to_csv(manifest, index=False)
    run_batch(items_from_input(manifest), tmp_path / "run", threshold_chain, workers=1,
              progress=False)  # fmt: skip
    tables = BatchTables.load(tmp_path / "run")
    pages = write_subject_reports(tables, tmp_path / "rep", progress=False)
    assert [name for name, _ in pages] == ["Subject 1", "Subject 2"]
    first = pages[0][1].read_text()
    assert first.count("data:image/png") == 2 and "S-77" not in first
    named = write_subject_reports(tables, tmp_path / "named", include_identifiers=True,
                                  progress=False)  # fmt: skip
    assert [name for name, _ in named] == ["S-77", "S-88"]
    flagged = write_subject_reports(tables, tmp_path / "flagged", only_flagged=True, progress=False)
    assert [name for name, _ in flagged] == ["Subject 1"]


def _pages(tables: BatchTables, out) -> dict[str, str]:
    """Every page (all subjects, flagged ones, the cohort) by its relative name."""
    pages = write_subject_reports(tables, out / "subjects", progress=False)
    write_subject_reports(tables, out / "flagged", only_flagged=True, progress=False)
    links = [(name, f"subjects/{path.name}") for name, path in pages]
    write_cohort_report(tables, out / "cohort.html", links=links)
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*.html"))}


def test_columns_no_page_reads_are_not_loaded_and_change_nothing(run, tmp_path):
    copy = tmp_path / "batch"
    shutil.copytree(run / "batch", copy)
    table = pd.read_parquet(copy / "measurements.parquet")
    table.assign(note="x" * 40, spare_mm=1.0).to_parquet(copy / "measurements.parquet")
    (copy / "corrections.csv").write_text(
        "time,reader,file,index,action,point,x,y,value\n"
        "2026-12-06T10:00:00+00:00,r,b.dcm,3,point,ant_sup,174.0,190.0,\n"
    )
    tables = BatchTables.load(copy)
    assert not {"note", "spare_mm", "cx", "area_px"} & set(tables.measurements.columns)
    assert "ant_sup_x" in tables.measurements  # the run stored its films: overlays drawn
    assert int(tables.measurements["corrected"].sum()) >= 1
    whole = BatchTables.load(copy, all_columns=True)
    assert {"note", "spare_mm", "cx"} <= set(whole.measurements.columns)
    assert _pages(tables, tmp_path / "lean") == _pages(whole, tmp_path / "whole")
    cohort = BatchTables.load(copy, pages=False)  # `morpho report --subjects none`
    assert "ha_mm" not in cohort.measurements
    assert (write_cohort_report(cohort, tmp_path / "c.html").read_text()
            == write_cohort_report(whole, tmp_path / "w.html").read_text())  # fmt: skip


def test_report_subjects_none_writes_the_cohort_page_only(run):
    out = run / "none"
    result = CliRunner().invoke(app, ["report", str(run / "batch"), "--out", str(out),
                                      "--subjects", "none"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "cohort.html").exists() and not (out / "subjects").exists()


def test_seg_segments_are_named_by_level():
    from morpho.report.dicom_seg import segment_descriptions

    labels = [d.SegmentLabel for d in segment_descriptions([2, 3, 5], {2: "T11", 3: "T12"}, "m")]
    assert labels == ["T11 vertebral body", "T12 vertebral body", "vertebral body 5"]


def test_cohort_outcome_plot_has_no_empty_age_chart_without_ages():
    """Without any known age the outcome chart stands alone (no empty age axes)."""
    import cv2
    import numpy as np
    import pandas as pd

    from morpho.report.plots import cohort_plots

    def width(ages: list) -> int:
        images = pd.DataFrame({"status": ["ok", "ok", "failed"], "age": ages})
        measurements = pd.DataFrame({"genant_grade": pd.array([], dtype="Int64")})
        (png,) = cohort_plots(images, measurements)
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED).shape[1]

    assert width([None, None, None]) < 0.7 * width([61.0, 72.0, None])


def test_cohort_page_counts_not_gradable_vertebrae_by_first_reason(tmp_path):
    from morpho.report.html import _not_gradable

    qa = ["", "dropped speck at (3,4): 9 px; ungradable: low model confidence (0.74)",
          "ungradable: low model confidence (0.61); irregular outline (solidity 0.70)",
          "ungradable: may hold two bodies (1.9x the neighbours' height)", None, "split"]
    grades = [0, None, None, None, None, 2]
    pd.DataFrame({"genant_grade": pd.array(grades, dtype="Int64"), "qa": qa}).to_parquet(
        tmp_path / "measurements.parquet")
    html = _not_gradable(tmp_path)
    rows = re.findall(r"<td>([^<]*)</td>\s*<td>(\d+)</td>\s*<td>([\d.]+%)</td>", html)
    assert rows == [("low model confidence", "2", "33.3%"), ("may hold two bodies", "1", "16.7%"),
                    ("no reason recorded", "1", "16.7%")]
    assert _not_gradable(tmp_path / "none") == ""


def test_cohort_page_counts_failures_by_kind_of_cause(run, tmp_path):
    """Causes that differ only in a film's own numbers (in brackets) are one row."""
    copy = tmp_path / "batch"
    shutil.copytree(run / "batch", copy)
    frontal = ("{}: looks like a frontal film, not a lateral one (mirror-symmetric about the "
               "spine: {}, over 0.45) and no header gives the view")
    column = ("{}: no vertebral column found (not a quarter of the bodies has a mean "
              "probability of 0.78 (upper quartile {}))")
    pd.DataFrame({"file": ["e.png", "f.png", "g.png"],
                  "cause": [frontal.format("e.png", 0.63), frontal.format("f.png", 0.71),
                            column.format("g.png", 0.52)]}).to_csv(
        copy / "failures.csv", mode="a", header=False, index=False)
    html = write_cohort_report(BatchTables.load(copy), tmp_path / "c.html").read_text()
    rows = re.findall(r"<td>([^<]*)</td>\s*<td>(\d+)</td>", html)
    assert ("&lt;file&gt;: looks like a frontal film, not a lateral one and no header gives "
            "the view", "2") in rows
    assert ("&lt;file&gt;: no vertebral column found", "1") in rows
