"""The files a batch run keeps per film (``morpho.stored``) across resumes and replaced files."""

from __future__ import annotations

import functools
import os

import cv2
import numpy as np
import pandas as pd
import pytest
from batch_dicoms import write_dicom
from batch_phantoms import phantom, threshold_chain

from morpho.batch import items_from_input, run_batch
from morpho.errors import MorphoError
from morpho.stored import STAGING, StoredFilm


def _labels(run, name):
    return cv2.imread(str(run / "films" / f"{name}_labels.png"), cv2.IMREAD_UNCHANGED)


def test_stored_files_follow_resumes_and_replaced_files(tmp_path):
    source, run = tmp_path / "in", tmp_path / "run"
    (source / "a").mkdir(parents=True)
    write_dicom(source / "a" / "x.dcm", np.round(phantom(700, 400) * 4000))
    cv2.imwrite(str(source / "y.png"), np.round(phantom(600, 400, seed=1) * 255).astype(np.uint8))
    first = run_batch(items_from_input(source), run, threshold_chain, workers=1, progress=False)
    assert first.ok == 2 and not (run / STAGING).exists()
    before = {p: p.stat().st_mtime_ns for p in (run / "films").rglob("*.*")}
    assert len(before) == 5  # labels and film for both; the header copy for the DICOM
    again = run_batch(items_from_input(source), run, threshold_chain, workers=1, progress=False)
    assert again.processed_now == 0  # resumed: nothing ran, nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in (run / "films").rglob("*.*")} == before
    old = _labels(run, "y")
    wider = np.round(phantom(600, 500, seed=1) * 255).astype(np.uint8)
    cv2.imwrite(str(source / "y.png"), wider)  # replaced: runs again, its files follow
    os.utime(source / "y.png", ns=(1, 1))
    third = run_batch(items_from_input(source), run, threshold_chain, workers=1, progress=False)
    assert third.processed_now == 1 and old.shape == (600, 400)
    assert _labels(run, "y").shape == (600, 500)
    images = pd.read_parquet(run / "images.parquet")
    m = pd.read_parquet(run / "measurements.parquet")
    for row in images.itertuples():
        labels = StoredFilm(run, row.stored, row.file).labels()
        assert labels.shape == (row.rows, row.cols)
        assert set(np.unique(labels)) - {0} == set(m[m["file"] == row.file]["index"])
    assert not list(run.rglob(".*.tmp*")) and not (run / STAGING).exists()


def test_a_failed_film_keeps_no_files(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    cv2.imwrite(str(source / "good.png"), np.round(phantom(700, 400) * 255).astype(np.uint8))
    cv2.imwrite(str(source / "noise.png"),
                np.random.default_rng(0).integers(0, 255, (600, 400), np.uint8))  # fmt: skip
    summary = run_batch(items_from_input(source), tmp_path / "run", threshold_chain, workers=1,
                        progress=False)  # fmt: skip
    assert (summary.ok, summary.failed) == (1, 1)
    stored = sorted(p.name for p in (tmp_path / "run" / "films").iterdir())
    assert stored == ["good_film.jpg", "good_labels.png"]
    images = pd.read_parquet(tmp_path / "run" / "images.parquet")
    stored = images.set_index("file")["stored"]
    assert stored["good.png"] == "films/good" and pd.isna(stored["noise.png"])


def test_overlays_are_kept_only_when_asked(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    cv2.imwrite(str(source / "f.png"), np.round(phantom(700, 400) * 255).astype(np.uint8))
    factory = functools.partial(threshold_chain, overlays=True)
    run_batch(items_from_input(source), tmp_path / "run", factory, workers=1, progress=False)
    overlay = cv2.imread(str(tmp_path / "run" / "films" / "f_overlay.png"))
    assert overlay.shape == (900, 514, 3)  # a small film is drawn enlarged (MIN_SIDE)
    film = StoredFilm(tmp_path / "run", "films/f", "f.png")
    assert film.need("overlay").name == "f_overlay.png"
    plain = tmp_path / "plain"
    run_batch(items_from_input(source), plain, threshold_chain, workers=1, progress=False)
    with pytest.raises(MorphoError, match="without --overlays"):
        StoredFilm(plain, "films/f", "f.png").need("overlay")


def test_overlays_without_the_film_copy_are_refused(tmp_path):
    from typer.testing import CliRunner

    from morpho.cli import app

    (tmp_path / "in").mkdir()
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "in"), "--out",
                                      str(tmp_path / "run"), "--overlays", "--no-pictures"])
    assert result.exit_code == 1 and "--overlays needs the film copy" in result.output
    assert not (tmp_path / "run").exists()
