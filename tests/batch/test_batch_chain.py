"""The real chain (read -> segment -> measure) in batch, with a threshold segmenter."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from batch_dicoms import write_dicom
from batch_phantoms import phantom, threshold_chain

from morpho.batch import items_from_input, run_batch
from morpho.batch.outputs import SUBJECT_COLUMNS
from morpho.measure import EXTRA_COLUMNS, MEASUREMENT_COLUMNS


def test_chain_reduced_decode_matches_full_decode(tmp_path):
    image = phantom(2100, 1100)
    (tmp_path / "in").mkdir()
    write_dicom(tmp_path / "in" / "film.dcm", np.round(image * 4000), j2k=True)
    cv2.imwrite(str(tmp_path / "in" / "film2.jpg"), np.round(image * 255).astype(np.uint8))
    items = items_from_input(tmp_path / "in")
    runs = {}
    for reduced in (True, False):
        out = tmp_path / f"out-{reduced}"
        factory = lambda r=reduced: threshold_chain(reduced=r)  # noqa: E731
        summary = run_batch(items, out, factory, workers=1, progress=False)
        assert summary.ok == 2
        runs[reduced] = (pd.read_parquet(out / "measurements.parquet"),
                         pd.read_parquet(out / "images.parquet"))  # fmt: skip
    (small, small_images), (full, full_images) = runs[True], runs[False]
    assert list(small_images["decode_factor"]) == [2, 2]
    assert list(full_images["decode_factor"]) == [1, 1]
    assert list(small.columns) == ["file", *MEASUREMENT_COLUMNS, *EXTRA_COLUMNS, *SUBJECT_COLUMNS]
    assert len(small) == len(full) == 18
    assert (small["genant_grade"].to_numpy() == full["genant_grade"].to_numpy()).all()
    points = [c for c in MEASUREMENT_COLUMNS if c.endswith(("_x", "_y"))]
    # points from the 1/2 decode land on those of the full decode, up to the coarser
    # probabilities and film (one reduced pixel is 2 original pixels; endplates found on
    # the film move by up to 3 reduced pixels)
    shift = np.abs(small[points].to_numpy() - full[points].to_numpy())
    assert np.nanmedian(shift) <= 1.5 and np.nanmax(shift) <= 6.5
    assert small_images.loc[0, "spacing_source"] != "none" and small_images.loc[0, "age"] == 67


def test_chain_bad_files_fail_with_causes_and_good_files_keep_rows(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    cv2.imwrite(str(source / "good.png"), np.round(phantom(700, 400) * 255).astype(np.uint8))
    write_dicom(source / "good.dcm", np.round(phantom(700, 400, seed=3) * 4000), j2k=True)
    truncated = (source / "good.dcm").read_bytes()
    (source / "truncated.dcm").write_bytes(truncated[: len(truncated) // 2])
    (source / "text.png").write_text("hello, not an image")
    cv2.imwrite(str(source / "tiny.png"), np.full((32, 32), 200, np.uint8))
    summary = run_batch(items_from_input(source), tmp_path / "out", threshold_chain, workers=1,
                        progress=False)  # fmt: skip
    assert (summary.ok, summary.failed) == (2, 3)
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    causes = dict(zip(failures["file"], failures["cause"], strict=True))
    assert set(causes) == {"truncated.dcm", "text.png", "tiny.png"}
    assert "too small" in causes["tiny.png"] and all(len(c) > 5 for c in causes.values())
    measurements = pd.read_parquet(tmp_path / "out" / "measurements.parquet")
    assert measurements.groupby("file").size().to_dict() == {"good.dcm": 9, "good.png": 9}


def test_frontal_films_fail_in_a_lateral_batch_unless_the_view_is_given(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    write_dicom(source / "lateral.dcm", np.round(phantom(700, 400) * 4000))
    write_dicom(source / "frontal.dcm", np.round(phantom(700, 400, seed=2) * 4000), view="PA")
    items = items_from_input(source)
    summary = run_batch(items, tmp_path / "out", threshold_chain, workers=1, progress=False)
    assert (summary.ok, summary.failed) == (1, 1)
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert failures["file"].tolist() == ["frontal.dcm"]
    assert "frontal film (PA view" in failures["cause"].iloc[0]
    as_ap = functools.partial(threshold_chain, view="ap")
    summary = run_batch(items, tmp_path / "out-ap", as_ap, workers=1, progress=False)
    assert (summary.ok, summary.failed) == (2, 0)


def test_measure_and_batch_give_the_same_rows_and_columns(tmp_path):
    """One chain: `morpho measure` and `morpho batch --full-resolution` on the same film with
    the same options (the levels named from the first whole body in one, from the last in
    the other) write the same vertebra rows, public and extra columns alike."""
    from typer.testing import CliRunner

    from morpho.cli import app

    sample = Path(__file__).resolve().parents[2] / "samples" / "sample_lateral.dcm"
    runner = CliRunner()
    result = runner.invoke(app, ["measure", str(sample), "--first-level", "T2",
                                 "--out", str(tmp_path / "m")])  # fmt: skip
    assert result.exit_code == 0, result.output
    # the sample's last whole body is L2: named from it, the batch gives the same names
    result = runner.invoke(app, ["batch", str(sample.parent), "--last-level", "L2",
                                 "--full-resolution", "--out", str(tmp_path / "b")])  # fmt: skip
    assert result.exit_code == 0, result.output
    measured = pd.read_csv(tmp_path / "m" / "measurements.csv")
    batched = pd.read_parquet(tmp_path / "b" / "measurements.parquet")
    columns = [c for c in [*MEASUREMENT_COLUMNS, *EXTRA_COLUMNS] if c != "image"]
    assert set(columns) <= set(measured.columns) and set(columns) <= set(batched.columns)
    assert len(measured) == len(batched) >= 10
    text = batched[columns].select_dtypes(exclude="number").columns  # parquet keeps types

    def plain(table: pd.DataFrame) -> pd.DataFrame:  # CSV reads "" as NaN
        table = table[columns].reset_index(drop=True)
        return table.astype({c: object for c in text}).fillna({c: "" for c in text})

    pd.testing.assert_frame_equal(plain(measured), plain(batched), check_dtype=False,
                                  check_exact=False, atol=1e-6)  # fmt: skip
    images = pd.read_parquet(tmp_path / "b" / "images.parquet")
    assert images.loc[0, "gradable"] == measured["genant_grade"].notna().sum()
    assert images.loc[0, "driver"] == "T12" and images.loc[0, "worst_grade"] == 2
