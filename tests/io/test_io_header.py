"""Header facts: age strings, height units, view and facing."""

from __future__ import annotations

import pytest
from dicom_factory import make_dataset
from pydicom.dataset import Dataset

from morpho.io.header import parse_age, parse_facing, parse_height_cm, parse_view


@pytest.mark.parametrize(
    ("text", "years"),
    [("067Y", 67.0), ("006M", 0.5), ("052W", 0.9966), ("030D", 0.082), ("", None), ("abc", None)],
)
def test_age(text, years):
    assert parse_age(text) == (pytest.approx(years, abs=1e-3) if years else None)


@pytest.mark.parametrize(("size", "cm"), [(1.72, 172.0), ("1.655", 165.5), (168, 168.0)])
def test_height_from_metres(size, cm):
    assert parse_height_cm(make_dataset(False, PatientSize=size)) == cm


@pytest.mark.parametrize(
    ("tags", "view"),
    [
        ({"ViewPosition": "LL"}, "lateral"),
        ({"ViewPosition": "RL"}, "lateral"),
        ({"ViewPosition": "AP"}, "ap"),
        ({"ViewPosition": "PA"}, "pa"),
        ({"ViewPosition": "", "SeriesDescription": "Thorax lat"}, "lateral"),
        ({"ProtocolName": "CHEST_PA"}, "pa"),
        ({"SeriesDescription": "Chest"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_view(tags, view):
    assert parse_view(make_dataset(False, **tags)) == view


def test_view_from_view_code_sequence():
    code = Dataset()
    code.CodeMeaning = "left lateral"
    assert parse_view(make_dataset(False, ViewCodeSequence=[code])) == "lateral"


@pytest.mark.parametrize(
    ("orientation", "facing"), [(["A", "F"], "right"), (["P", "F"], "left"), (["L", "F"], None)]
)
def test_facing(orientation, facing):
    assert parse_facing(make_dataset(False, PatientOrientation=orientation)) == facing
    assert parse_facing(make_dataset(False)) is None
