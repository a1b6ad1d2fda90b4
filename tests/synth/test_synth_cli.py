"""`morpho synth phantom|drr|cohort` write complete sets."""

from __future__ import annotations

import importlib.util
import json

import cv2
import pandas as pd
import pytest
from typer.testing import CliRunner

from morpho.cli import app
from morpho.resources import shared_data_dir
from morpho.synth import DATASET_LEVELS

runner = CliRunner()


def _check_set(out, n):
    dataset = json.loads((out / "dataset.json").read_text())
    assert dataset["levels"] == DATASET_LEVELS and len(dataset["items"]) == n
    truth = pd.read_csv(out / "truth.csv")
    for item in dataset["items"]:
        image = cv2.imread(str(out / item["image"]), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(out / item["mask"]), cv2.IMREAD_UNCHANGED)
        labels = cv2.imread(str(out / item["labels"]), cv2.IMREAD_UNCHANGED)
        assert image.dtype.name == "uint16" and set(map(int, mask.ravel())) <= {0, 255}
        assert ((labels > 0) == (mask > 0)).all()
        rows = truth[truth.image == item["id"]]
        assert set(rows.level) == {DATASET_LEVELS[k - 1] for k in set(labels.ravel()) - {0}}
        assert item["split"] in ("train", "val", "test")
    return dataset, truth


def test_phantom_command(tmp_path):
    result = runner.invoke(app, ["synth", "phantom", "--out", str(tmp_path), "--n", "4",
                                 "--size", "160", "--fracture-rate", "0.5", "--seed", "1"])
    assert result.exit_code == 0, result.output
    dataset, truth = _check_set(tmp_path, 4)
    fractured = truth[truth.fracture_grade > 0]
    assert len(fractured) > 0
    for _, row in fractured.iterrows():
        item = next(i for i in dataset["items"] if i["id"] == row.image)
        assert item["fractures"][row.level]["grade"] == row.fracture_grade


@pytest.mark.shared
@pytest.mark.skipif(not (shared_data_dir() / "ct" / "tptbox-l22").is_dir(),
                    reason="needs ../shared/data/ct")
def test_drr_command(tmp_path):
    ct = shared_data_dir() / "ct" / "tptbox-l22"
    result = runner.invoke(app, ["synth", "drr", "--ct", str(ct), "--out", str(tmp_path),
                                 "--n", "2", "--size", "96", "--test", "tptbox-l22"])
    assert result.exit_code == 0, result.output
    dataset, _ = _check_set(tmp_path, 2)
    assert {i["split"] for i in dataset["items"]} == {"test"}
    plain = tmp_path / "plain"
    result = runner.invoke(app, ["synth", "drr", "--ct", str(ct), "--out", str(plain),
                                 "--n", "2", "--size", "96", "--no-realism"])  # fmt: skip
    assert result.exit_code == 0, result.output
    _check_set(plain, 2)
    for item in dataset["items"]:  # the same pose and truth, without the realism steps
        read = [cv2.imread(str(root / item[k]), cv2.IMREAD_UNCHANGED)
                for root in (tmp_path, plain) for k in ("image", "mask")]  # fmt: skip
        assert (read[1] == read[3]).all() and not (read[0] == read[2]).all()


def test_drr_bad_folder_is_one_line(tmp_path):
    result = runner.invoke(app, ["synth", "drr", "--ct", str(tmp_path), "--out",
                                 str(tmp_path / "o"), "--n", "1"])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(importlib.util.find_spec("morpho.synth.cohort") is None,
                    reason="morpho.synth.cohort not written yet")
def test_cohort_command(tmp_path):
    result = runner.invoke(app, ["synth", "cohort", "--out", str(tmp_path), "--n", "20"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "demographics.csv")) == 20
    assert (tmp_path / "measurements.csv").is_file()


def test_phantom_dicom_carries_detector_spacing(tmp_path):
    from morpho.io import read_radiograph

    result = runner.invoke(app, ["synth", "phantom", "--out", str(tmp_path), "--n", "1",
                                 "--size", "128", "--dicom"])
    assert result.exit_code == 0, result.output
    item = json.loads((tmp_path / "dataset.json").read_text())["items"][0]
    assert item["image"].endswith(".dcm")
    radiograph = read_radiograph(tmp_path / item["image"])
    assert radiograph.pixels.shape == (128, 128) and radiograph.view == "lateral"
    assert radiograph.spacing_mm == pytest.approx(tuple(item["spacing_mm"]), rel=1e-4)
