"""Same file names in two folders never collide; outputs stay inside --out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydicom
import pytest
from batch_dicoms import write_dicom
from batch_phantoms import phantom, threshold_chain
from typer.testing import CliRunner

from morpho.batch import items_from_input, run_batch
from morpho.cli import app
from morpho.io.files import inside, output_names


def test_output_names_are_unique_and_stay_inside():
    keys = ["a/x.dcm", "b/x.dcm", "c/x.dcm", "c/x.png", "c/x", "../../etc/x.png", "/abs/x.png",
            "abs/x.png", "y"]  # fmt: skip
    names = output_names(keys)
    assert names[:2] == ["a/x", "b/x"] and names[-1] == "y"
    assert len(set(names)) == len(names)
    assert not any(n.startswith("/") or ".." in n.split("/") for n in names)


def test_inside_refuses_a_path_that_leaves_the_folder(tmp_path):
    from morpho.errors import MorphoError

    assert inside(tmp_path, "a/b_seg.dcm") == tmp_path.resolve() / "a" / "b_seg.dcm"
    with pytest.raises(MorphoError, match="outside the output folder"):
        inside(tmp_path, "../escape_seg.dcm")


@pytest.fixture(scope="module")
def same_names(tmp_path_factory):
    """in/a/x.dcm and in/b/x.dcm (different films, wedge at 2 and 5), batched into in/out."""
    root = tmp_path_factory.mktemp("names")
    for folder, wedge in (("a", 2), ("b", 5)):
        (root / "in" / folder).mkdir(parents=True)
        write_dicom(root / "in" / folder / "x.dcm", np.round(phantom(700, 400, wedge) * 4000))
    out = root / "in" / "out"  # inside the input: must not be read as input next time
    for _ in range(2):
        run_batch(items_from_input(root / "in", skip=[out]), out, threshold_chain, workers=1,
                  progress=False)  # fmt: skip
    return root


def test_batch_keys_both_files_apart(same_names):
    out = same_names / "in" / "out"
    images = pd.read_parquet(out / "images.parquet")
    assert list(images["file"]) == ["a/x.dcm", "b/x.dcm"]
    assert list(images["image"]) == ["a/x", "b/x"]
    m = pd.read_parquet(out / "measurements.parquet")
    assert m.groupby("image").size().to_dict() == {"a/x": 9, "b/x": 9}
    graded = m[m["genant_grade"] >= 1].groupby("file")["index"].apply(list).to_dict()
    assert graded == {"a/x.dcm": [3], "b/x.dcm": [6]}  # each film keeps its own results


def test_report_and_dicom_seg_keep_both(same_names):
    report = same_names / "report"
    args = ["report", str(same_names / "in" / "out"), "--out", str(report),
            "--include-identifiers", "--dicom-seg"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(list((report / "subjects").glob("*.html"))) == 2
    segs = sorted(p.relative_to(report / "seg").as_posix() for p in (report / "seg").rglob("*"))
    assert segs == ["a", "a/x_seg.dcm", "b", "b/x_seg.dcm"]
    for folder in ("a", "b"):  # each SEG references its own source
        seg = pydicom.dcmread(report / "seg" / folder / "x_seg.dcm")
        referenced = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0]
        source = pydicom.dcmread(same_names / "in" / folder / "x.dcm")
        assert referenced.ReferencedSOPInstanceUID == source.SOPInstanceUID


def test_crafted_images_table_cannot_write_outside_out(same_names, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(same_names / "in" / "out", run)
    images = pd.read_parquet(run / "images.parquet")
    images["file"] = ["../../../escaped/x.dcm", "/tmp/abs/x.dcm"]
    images["image"] = ["../../../escaped/x", "/tmp/abs/x"]
    images.to_parquet(run / "images.parquet", index=False)
    report = tmp_path / "deep" / "report"
    args = ["report", str(run), "--out", str(report), "--include-identifiers", "--dicom-seg"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = sorted(p for p in tmp_path.rglob("*_seg.dcm"))
    assert len(written) == 2 and all(report / "seg" in p.parents for p in written)
