"""Batch runner: outputs, bad files, kill -9 and resume (with a fake worker, no model)."""

from __future__ import annotations

import functools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from batch_fakes import FakeWorker, make_images
from pandas.testing import assert_frame_equal

from morpho.batch import items_from_input, run_batch
from morpho.errors import MorphoError

HERE = Path(__file__).parent
TIMING = ["read_s", "process_s"]


def read_outputs(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    images = pd.read_parquet(out / "images.parquet").drop(columns=TIMING)
    return pd.read_parquet(out / "measurements.parquet"), images, pd.read_csv(out / "failures.csv")


def test_outputs_and_bad_files(tmp_path):
    source = tmp_path / "in"
    make_images(source / "a", 3)
    make_images(source / "b", 2, seed=1)
    (source / "b" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (source / "notes.png").write_bytes(b"not an image at all")
    (source / "README.md").write_text("skipped: not an image suffix")
    import cv2
    import numpy as np

    cv2.imwrite(str(source / "tiny.png"), np.zeros((4, 4), np.uint8))
    summary = run_batch(items_from_input(source), tmp_path / "out", FakeWorker, workers=1,
                        progress=False)  # fmt: skip
    assert (summary.total, summary.ok, summary.failed) == (8, 5, 3)
    measurements, images, failures = read_outputs(tmp_path / "out")
    assert len(measurements) == 15 and measurements["file"].nunique() == 5
    assert list(images["file"]) == sorted(images["file"])  # input order
    causes = dict(zip(failures["file"], failures["cause"], strict=True))
    assert set(causes) == {"b/corrupt.png", "notes.png", "tiny.png"}
    assert causes["tiny.png"].startswith("image too small")
    assert causes["notes.png"] == "not a readable image"
    assert (
        pd.read_csv(tmp_path / "out" / "measurements.csv")["file"] == measurements["file"]
    ).all()
    assert not list((tmp_path / "out").glob(".*.tmp*"))


def test_resume_skips_done_and_refuses_other_settings(tmp_path):
    make_images(tmp_path / "in", 4)
    items = items_from_input(tmp_path / "in")
    first = run_batch(items[:2], tmp_path / "out", FakeWorker, workers=1, progress=False)
    again = run_batch(items, tmp_path / "out", FakeWorker, workers=1, progress=False)
    assert (first.processed_now, again.processed_now, again.ok) == (2, 2, 4)
    with pytest.raises(MorphoError, match="other settings"):
        run_batch(items, tmp_path / "out", FakeWorker, settings={"model": "x"}, progress=False)


def test_manifest_overrides_demographics(tmp_path):
    paths = make_images(tmp_path / "imgs", 2)
    manifest = tmp_path / "cohort.csv"
    pd.DataFrame(
        {"path": [f"imgs/{p.name}" for p in paths], "subject_id": ["s1", "s2"], "age": [61, 72],
         "sex": ["F", "M"]}
    ).to_csv(manifest, index=False)  # fmt: skip
    run_batch(items_from_input(manifest), tmp_path / "out", FakeWorker, workers=1, progress=False)
    images = pd.read_parquet(tmp_path / "out" / "images.parquet")
    assert list(images["subject"]) == ["s1", "s2"] and list(images["age"]) == [61, 72]


def _rows_committed(store: Path) -> int:
    try:
        with sqlite3.connect(store) as db:
            return db.execute("SELECT count(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_minus_nine_then_resume_equals_clean_run(tmp_path):
    make_images(tmp_path / "in", 24)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    run_batch(items_from_input(tmp_path / "in"), clean, FakeWorker, workers=1, progress=False)

    command = [
        sys.executable,
        str(HERE / "batch_fakes.py"),
        str(tmp_path / "in"),
        str(killed),
        "0.1",
        "2",
    ]
    batch = subprocess.Popen(command, start_new_session=True)  # its own group: kill it whole
    deadline = time.monotonic() + 60
    while _rows_committed(killed / "state.sqlite") < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(batch.pid, signal.SIGKILL)
    batch.wait()
    done_at_kill = _rows_committed(killed / "state.sqlite")
    assert 6 <= done_at_kill < 24, "the kill must land mid-run"
    assert not (killed / "measurements.parquet").exists()
    stale = killed / ".measurements.parquet.x1y2.tmp.parquet"  # as if killed mid-write
    stale.write_bytes(b"half a file")

    resumed = run_batch(items_from_input(tmp_path / "in"), killed,
                        functools.partial(FakeWorker), workers=2, progress=False)  # fmt: skip
    assert resumed.processed_now == 24 - done_at_kill and not stale.exists()
    for got, want in zip(read_outputs(killed), read_outputs(clean), strict=True):
        assert_frame_equal(got, want)


def test_reference_scores_named_levels(tmp_path):
    from morpho.stats.workflow import fit_file
    from morpho.synth.cohort import simulate_cohort

    demographics, cohort = simulate_cohort(60, seed=0)
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    demographics.rename(columns={"subject_id": "image"}).to_csv(tmp_path / "demo.csv", index=False)
    fit_file(tmp_path / "cohort.csv", tmp_path / "ref.json", tmp_path / "demo.csv", min_n=10)
    paths = make_images(tmp_path / "imgs", 3)
    manifest = tmp_path / "manifest.csv"
    table = {"path": [f"imgs/{p.name}" for p in paths], "age": [60, 70, 80],
             "sex": ["F", "M", "F"], "height_cm": [160, 175, 158]}  # fmt: skip
    pd.DataFrame(table).to_csv(manifest, index=False)
    run_batch(items_from_input(manifest), tmp_path / "out", FakeWorker, workers=1,
              reference=tmp_path / "ref.json", progress=False)  # fmt: skip
    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert len(scores) == 9 and scores["wedge_ratio_z"].notna().all()
    assert (tmp_path / "out" / "subjects.parquet").exists()
    from morpho.report import write_cohort_report
    from morpho.report.html import BatchTables

    tables = BatchTables.load(tmp_path / "out")  # the report picks up z-scores and stats plots
    assert tables.measurements["wedge_ratio_z"].tolist() == scores["wedge_ratio_z"].tolist()
    html = write_cohort_report(tables, tmp_path / "cohort.html").read_text()
    assert html.count("data:image/png") >= 5, html[html.find("not drawn") - 200 :][:600]
