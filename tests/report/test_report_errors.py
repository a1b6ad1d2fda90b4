"""`morpho report` and `morpho batch` on broken inputs: one error line, never a traceback."""

from __future__ import annotations

import shutil

import cv2
import pytest
from batch_fakes import FakeWorker, make_images
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.cli import app
from morpho.synth.phantom import PhantomParams, render_phantom


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("finished")
    make_images(root / "in", 2)
    run_batch(items_from_input(root / "in"), root / "run", FakeWorker, workers=1, progress=False)
    return root / "run"


def _one_line(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.output
    assert expected in errors[0] and "Traceback" not in result.output


def _damaged(finished, tmp_path, name: str, data: bytes | None):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    if data is None:
        (run / name).unlink()
    else:
        (run / name).write_bytes(data)
    return run


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("images.parquet", None, "unfinished batch run"),
        ("images.parquet", b"PAR1 not really parquet", "corrupt"),
        ("images.parquet", b"", "corrupt"),
        ("failures.csv", b"", "empty or corrupt"),
        ("measurements.parquet", b"\x00" * 64, "corrupt"),
    ],
)
def test_report_on_a_damaged_run(finished, tmp_path, name, data, expected):
    run = _damaged(finished, tmp_path, name, data)
    _one_line(["report", str(run), "--out", str(tmp_path / "rep")], expected)


def test_report_on_a_missing_or_empty_folder(tmp_path):
    _one_line(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")], "no such")
    (tmp_path / "empty").mkdir()
    _one_line(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")], "not a morpho")
    (tmp_path / "empty" / "measurements.csv").write_text("image,index\n")  # `measure` output
    _one_line(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")],
              "run `morpho batch INPUT --out RUN`")


def test_report_on_a_table_of_another_kind(finished, tmp_path):
    import pandas as pd

    run = _damaged(finished, tmp_path, "images.parquet", None)
    pd.DataFrame({"x": [1]}).to_parquet(run / "images.parquet")
    _one_line(["report", str(run), "--out", str(tmp_path / "rep")], "not a morpho batch table")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty manifest"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "not a readable manifest"),
        (b'path,age\n"a.png,61\nb.png,"7"2"\n', "badly quoted"),
        (b"file,age\na.png,61\n", "needs a 'path' column"),
        (b"path,age\na.png,sixty\n", "line 2: age 'sixty' is not a number"),
        (b"path,age\n", "no radiograph files"),
    ],
)
def test_batch_with_a_bad_manifest(tmp_path, content, expected):
    (tmp_path / "m.csv").write_bytes(content)
    _one_line(["batch", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out")], expected)


@pytest.mark.parametrize("command", ["info", "segment", "measure"])
def test_an_unreadable_file_on_the_command_line_is_one_failure(tmp_path, command):
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "film.png"), render_phantom(PhantomParams()).image)
    unreadable = tmp_path / ("x" * 300 + ".png")  # stat fails: name too long
    args = [command, str(unreadable), str(tmp_path / "missing.png"), str(tmp_path / "in")]
    if command != "info":
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "2 of 3 file(s) failed" in result.output
    if command == "segment":
        assert (tmp_path / "out" / "in" / "film_mask.png").is_file()  # the good one was done
