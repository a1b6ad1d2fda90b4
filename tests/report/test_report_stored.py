"""A batch run keeps what later stages need (``morpho.stored``): report, SEG and SR work from
the run alone, after the original films have been moved away."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess

import cv2
import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
import pytest
from batch_dicoms import PATIENT_ID, PATIENT_NAME, files_holding, write_dicom
from batch_phantoms import phantom, threshold_chain, write_threshold_onnx
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.batch.chain import ChainWorker
from morpho.cli import app
from morpho.segment.infer import default_model_path

SECRETS = [PATIENT_NAME, PATIENT_ID, *PATIENT_NAME.split("^")]


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    """A run (a tiny ONNX threshold model, the real Segmenter) over two DICOMs with patient
    identifiers and a PNG; then the input folder is moved away."""
    pytest.importorskip("onnx")
    root = tmp_path_factory.mktemp("stored")
    source = root / "in"
    (source / "a").mkdir(parents=True)
    write_dicom(source / "a" / "film.dcm", np.round(phantom(1200, 640) * 4000), j2k=True)
    write_dicom(source / "b.dcm", np.round(phantom(700, 400, wedge_at=2, seed=1) * 4000))
    cv2.imwrite(str(source / "c.png"), np.round(phantom(700, 400, seed=2) * 255).astype(np.uint8))
    model = write_threshold_onnx(root / "model")
    factory = functools.partial(ChainWorker, model_path=str(model), threads=1, overlays=True)
    summary = run_batch(items_from_input(source), root / "run", factory, workers=1,
                        progress=False)  # fmt: skip
    assert summary.ok == 3, summary.failures
    truth = {k: pydicom.dcmread(source / k) for k in ("a/film.dcm", "b.dcm")}
    uids = {k: (ds.SOPInstanceUID, ds.StudyInstanceUID) for k, ds in truth.items()}
    masks = {k: ds.pixel_array > 2000 for k, ds in truth.items()}  # the phantom's bodies
    shutil.move(source, root / "elsewhere")
    return root, model, uids, masks


def _leaks(folder) -> list[str]:
    return files_holding(folder, SECRETS)


def test_the_run_keeps_label_maps_pictures_and_header_copies(moved):
    root, model, uids, masks = moved
    run = root / "run"
    images = pd.read_parquet(run / "images.parquet")
    assert list(images["stored"]) == ["films/a/film", "films/b", "films/c"]
    stored = sorted(p.relative_to(run / "films").as_posix() for p in (run / "films").rglob("*.*"))
    assert stored == ["a/film_film.jpg", "a/film_labels.png", "a/film_overlay.png",
                      "a/film_source.dcm", "b_film.jpg", "b_labels.png", "b_overlay.png",
                      "b_source.dcm", "c_film.jpg", "c_labels.png", "c_overlay.png"]  # fmt: skip
    m = pd.read_parquet(run / "measurements.parquet")
    labels = cv2.imread(str(run / "films" / "a" / "film_labels.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (1200, 640) and labels.dtype == np.uint8
    film = m[m["file"] == "a/film.dcm"]
    assert set(np.unique(labels)) == {0, *film["index"]}
    for row in film.itertuples():  # each body's label holds its centre
        assert labels[round(row.cy), round(row.cx)] == row.index
    mask = masks["a/film.dcm"]  # the model sees the film at its input size: edges blur
    assert ((labels > 0) & mask).sum() / ((labels > 0) | mask).sum() > 0.95
    header = pydicom.dcmread(run / "films" / "a" / "film_source.dcm")
    assert "PixelData" not in header and str(header.PatientName) == "" and header.PatientID == ""
    assert (header.SOPInstanceUID, header.StudyInstanceUID) == uids["a/film.dcm"]
    assert (header.Rows, header.Columns) == (1200, 640)
    assert _leaks(run) == []
    copy = cv2.imread(str(run / "films" / "a" / "film_film.jpg"), cv2.IMREAD_GRAYSCALE)
    assert copy.shape == (1200, 640)  # under FILM_SIDE: its own size
    record = json.loads((run / "run.json").read_text())
    assert record["model_version"] == ["onnx-threshold-test"]
    assert record["model_sha256"] == list(images["model_sha256"].unique())
    assert len(record["model_sha256"][0]) == 64 and record["stored"]["films"] == 3


def test_report_seg_and_sr_work_after_the_films_moved(moved):
    root, model, uids, _ = moved
    out = root / "report"
    result = CliRunner().invoke(app, ["report", str(root / "run"), "--out", str(out),
                                      "--dicom-seg", "--dicom-sr"])  # fmt: skip
    assert result.exit_code == 0, result.output
    pages = sorted((out / "subjects").glob("*.html"))
    assert len(pages) == 3 and all(p.read_text().count("data:image/png;base64,") == 1
                                   for p in pages)  # fmt: skip
    assert _leaks(out) == []  # de-identified by default, SEG and SR included
    m = pd.read_parquet(root / "run" / "measurements.parquet")
    for key, name in (("a/film.dcm", "a/film"), ("b.dcm", "b")):
        seg = hd.seg.segread(out / "seg" / f"{name}_seg.dcm")
        assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0] \
            .ReferencedSOPInstanceUID == uids[key][0]
        assert seg.StudyInstanceUID == uids[key][1] and str(seg.PatientName) == ""
        labels = cv2.imread(str(root / "run" / "films" / f"{name}_labels.png"),
                            cv2.IMREAD_UNCHANGED)  # fmt: skip
        film = m[m["file"] == key]
        names = [f"{level} vertebral body" if level else f"vertebral body {index}"
                 for index, level in film.sort_values("index")[["index", "level"]].values]
        numbers = {name: number for number, name in enumerate(names, start=1)}
        assert seg.number_of_segments == len(film) > 1
        assert {seg.get_segment_description(n).SegmentLabel: n for n in numbers.values()} \
            == numbers  # one segment per body, named by its level
        sop = uids[key][0]
        combined = seg.get_pixels_by_source_instance([sop], combine_segments=True)[0]
        assert np.array_equal(combined > 0, labels > 0)  # the stored bodies
        sr = hd.sr.srread(out / "sr" / f"{name}_sr.dcm")
        groups = sr.content.get_planar_roi_measurement_groups()
        film = m[m["file"] == key].set_index("index")
        assert len(groups) == len(film)
        for group in groups:
            index = int(group.tracking_identifier.lstrip("#"))
            values = {x.name.meaning: x.value for x in group.get_measurements()}
            assert values["Anterior vertebral body height"] == pytest.approx(
                film.loc[index, "ha_mm"], abs=0.006)
            assert values["Anterior/posterior height ratio (wedge)"] == pytest.approx(
                film.loc[index, "wedge_ratio"], abs=1e-4)
    assert not (out / "seg" / "c_seg.dcm").exists()  # a PNG input has no SEG
    if shutil.which("dciodvfy"):  # Debian's dicom3tools: no errors in SEG or SR
        for path in (out / "seg" / "b_seg.dcm", out / "sr" / "b_sr.dcm"):
            check = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
            assert "Error" not in check.stdout + check.stderr, check.stderr


def test_a_model_other_than_the_runs_is_refused(moved):
    root, model, _, _ = moved
    args = ["report", str(root / "run"), "--out", str(root / "r2"), "--dicom-seg"]
    refused = CliRunner().invoke(app, [*args, "--model", str(default_model_path())])
    assert refused.exit_code == 1 and refused.output.count("error:") == 1
    assert "not the model this run was made with" in refused.output
    assert not (root / "r2").exists()
    same = CliRunner().invoke(app, [*args, "--model", str(model)])
    assert same.exit_code == 0, same.output


def test_a_run_without_stored_films_says_to_run_batch_again(moved, tmp_path):
    old = shutil.copytree(moved[0] / "run", tmp_path / "old")
    (old / "run.json").unlink()
    for command in (["report", str(old), "--out", str(tmp_path / "r")], ["review", str(old)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1 and result.output.count("error:") == 1
        assert "run morpho batch INPUT --out NEWRUN again" in " ".join(result.output.split())


def test_no_pictures_keeps_what_seg_and_sr_need(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    write_dicom(source / "film.dcm", np.round(phantom(700, 400) * 4000))
    factory = functools.partial(threshold_chain, pictures=False)
    run_batch(items_from_input(source), tmp_path / "run", factory, workers=1, progress=False)
    films = sorted(p.name for p in (tmp_path / "run" / "films").iterdir())
    assert films == ["film_labels.png", "film_source.dcm"]
    shutil.rmtree(source)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--out", str(out),
                                      "--dicom-seg", "--dicom-sr"])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = (out / "subjects" / "subject-0001.html").read_text()
    assert "data:image" not in page and "#6: Genant grade 2" in page
    assert (out / "seg" / "film_seg.dcm").is_file() and (out / "sr" / "film_sr.dcm").is_file()


def test_a_frontal_film_is_tabled_with_left_middle_right_heights(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    write_dicom(source / "ap.dcm", np.round(phantom(700, 400) * 4000), view="AP")
    factory = functools.partial(threshold_chain, view="ap")
    run_batch(items_from_input(source), tmp_path / "run", factory, workers=1, progress=False)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "subjects" / "subject-0001.html").read_text()
    header = re.search(r"<tr>(<th.*?)</tr>", page).group(1)
    columns = re.findall(r"<th[^>]*>([^<]*)</th>", header)
    assert columns == ["level", "left (mm)", "middle (mm)", "right (mm)", "QA"]
    assert "frontal (AP) film: heights only" in page and "could not be graded" not in page
    table = page.split("<table>")[1].split("</table>")[0]
    assert set(re.findall(r'<tr class="(\w+)"', table)) == {"gap"}  # no grade colours
