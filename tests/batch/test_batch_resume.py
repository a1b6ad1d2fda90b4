"""Resume: replaced files run again, failures are retried, one run per output folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from batch_fakes import FakeWorker, make_images

from morpho.batch import items_from_input, run_batch
from morpho.batch.store import fingerprint
from morpho.errors import MorphoError

HERE = Path(__file__).parent
FAKES = [sys.executable, str(HERE / "batch_fakes.py")]


def _run(source: Path, out: Path):
    return run_batch(items_from_input(source), out, FakeWorker, workers=1, progress=False)


def test_fingerprint_sees_content_behind_the_same_size_and_time(tmp_path):
    path = tmp_path / "f.dcm"
    path.write_bytes(bytes(50_000))
    before, stat = fingerprint(path), path.stat()
    path.write_bytes(bytes(49_999) + b"\x01")  # the last byte differs, nothing else
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fingerprint(path) != before and fingerprint(tmp_path / "missing") is None


def test_a_replaced_file_runs_again(tmp_path):
    make_images(tmp_path / "in", 3)
    _run(tmp_path / "in", tmp_path / "out")
    old = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    cv2.imwrite(str(tmp_path / "in" / "img001.png"), np.full((40, 32), 200, np.uint8))
    again = _run(tmp_path / "in", tmp_path / "out")
    assert again.processed_now == 1
    new = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    changed = new["ha_px"] != old["ha_px"]
    assert set(new.loc[changed, "file"]) == {"img001.png"}
    assert _run(tmp_path / "in", tmp_path / "out").processed_now == 0


def test_failures_are_retried_and_a_fixed_file_is_measured(tmp_path):
    make_images(tmp_path / "in", 2)
    broken = tmp_path / "in" / "late.png"
    broken.write_bytes(b"not yet an image")
    first = _run(tmp_path / "in", tmp_path / "out")
    assert (first.ok, first.failed) == (2, 1)
    assert _run(tmp_path / "in", tmp_path / "out").processed_now == 1  # retried, still bad
    cv2.imwrite(str(broken), np.full((40, 32), 90, np.uint8))
    fixed = _run(tmp_path / "in", tmp_path / "out")
    assert (fixed.processed_now, fixed.ok, fixed.failed) == (1, 3, 0)
    assert pd.read_csv(tmp_path / "out" / "failures.csv").empty


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    make_images(tmp_path / "in", 12)
    out = tmp_path / "out"
    running = subprocess.Popen([*FAKES, str(tmp_path / "in"), str(out), "0.3", "1"])
    try:
        _wait_for(out / ".morpho-batch.lock")
        with pytest.raises(MorphoError, match=rf"pid {running.pid} on .+, started 20\d\d-"):
            _run(tmp_path / "in", out)
    finally:
        running.wait(timeout=60)
    assert running.returncode == 0
    assert _run(tmp_path / "in", out).processed_now == 0  # the lock went with its holder


def test_racing_starts_one_runs_the_other_gets_one_line(tmp_path):
    make_images(tmp_path / "in", 6)
    command = [*FAKES, str(tmp_path / "in"), str(tmp_path / "out"), "0.5", "1"]
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=60), run.stderr.read()) for run in runs]
    assert sorted(code for code, _ in results) == [0, 1]
    refused = next(err for code, err in results if code == 1)
    assert refused.count("\n") == 1 and "another morpho batch is running" in refused
    assert "OperationalError" not in refused and "Traceback" not in refused


def test_a_damaged_resume_store_is_one_error(tmp_path):
    make_images(tmp_path / "in", 2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "state.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(MorphoError, match="resume store state.sqlite failed: file is not a"):
        _run(tmp_path / "in", tmp_path / "out")


def test_a_store_from_before_fingerprints_runs_everything_again(tmp_path):
    import sqlite3

    make_images(tmp_path / "in", 2)
    (tmp_path / "out").mkdir()
    with sqlite3.connect(tmp_path / "out" / "state.sqlite") as db:  # the schema before
        db.executescript(
            "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE results (key TEXT PRIMARY KEY, status TEXT NOT NULL, cause TEXT,"
            " facts TEXT NOT NULL, measurements BLOB);"
            "INSERT INTO meta VALUES ('settings', '{}');"
            "INSERT INTO results VALUES ('img000.png', 'ok', NULL, '{}', NULL);"
        )
    summary = _run(tmp_path / "in", tmp_path / "out")
    assert (summary.processed_now, summary.ok) == (2, 2)
