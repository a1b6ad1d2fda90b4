"""The bundled sample through the README's main path: one grade-2 wedge at T12."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from morpho.resources import shared_data_dir

SAMPLE = Path(__file__).parents[2] / "samples" / "sample_lateral.dcm"


def test_the_sample_has_exactly_one_fracture_t12_grade_2():
    pytest.importorskip("onnxruntime")
    from morpho.pipeline import measure_image

    _, _, df = measure_image(SAMPLE, first_level="T2")
    called = df[df["genant_grade"].fillna(0) >= 1]
    assert called[["level", "genant_grade", "genant_type"]].values.tolist() == [
        ["T12", 2, "wedge"]]
    truth = pd.read_csv(SAMPLE.with_name("sample_lateral_truth.csv"))
    m = truth.merge(df[df["genant_grade"].notna()], on="level", suffixes=("_true", ""))
    cols = ["ha_px", "hm_px", "hp_px"]
    error = np.abs(m[cols].to_numpy() / m[[f"{c}_true" for c in cols]].to_numpy() - 1)
    assert len(m) >= 10 and np.median(error) < 0.03
    # every height within 5% (the landmark network; from the outline, T2's Hp was 13% short)
    assert error.max() < 0.05
    assert (df["points_source"] == "landmarks").all()


def test_the_sample_named_from_its_last_whole_body_reads_the_same(tmp_path):
    """`--last-level L2` (counting up, as a reader who finds L1 by its missing rib does)
    names the sample as `--first-level T2` does; the two together are refused."""
    pytest.importorskip("onnxruntime")
    from typer.testing import CliRunner

    from morpho.cli import app

    runner, levels = CliRunner(), []
    for option in (["--first-level", "T2"], ["--last-level", "L2"]):
        out = tmp_path / option[0].strip("-")
        result = runner.invoke(app, ["measure", str(SAMPLE), "--out", str(out), *option])
        assert result.exit_code == 0, result.output
        levels.append(list(pd.read_csv(out / "measurements.csv")["level"].fillna("")))
    assert levels[0] == levels[1] and levels[0][-2:] == ["L2", "L3"]
    both = runner.invoke(app, ["measure", str(SAMPLE), "--out", str(tmp_path / "x"),
                               "--first-level", "T2", "--last-level", "L2"])  # fmt: skip
    assert both.exit_code == 1 and "not both" in both.output


def test_a_negative_image_file_is_read_as_a_negative(tmp_path):
    """The sample as 8-bit PNG, as exported and inverted (bone dark, as a MONOCHROME1 film
    saved without its inversion): the same bodies and the one call either way, and only the
    inverted one says it was read as a negative."""
    pytest.importorskip("onnxruntime")
    import cv2

    from morpho.chain import FilmSettings
    from morpho.io import read_radiograph
    from morpho.pipeline import measure_file

    film = np.round(read_radiograph(SAMPLE).pixels * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "positive.png"), film)
    cv2.imwrite(str(tmp_path / "negative.png"), 255 - film)
    settings = FilmSettings(first_level="T2")
    positive = measure_file(tmp_path / "positive.png", settings)
    negative = measure_file(tmp_path / "negative.png", settings)
    assert not positive.negative and positive.facts()["qa"] == "ok"
    assert negative.negative and "read as a negative" in negative.facts()["qa"]
    assert negative.table["qa"].str.startswith("film read as a negative").all()
    assert len(negative.table) == len(positive.table)
    for result in (positive, negative):
        called = result.table[result.table["genant_grade"].fillna(0) >= 2]
        assert called["level"].tolist() == ["T12"]
    assert np.allclose(negative.table["hp_px"], positive.table["hp_px"], rtol=0.02)


@pytest.mark.parametrize("quarters, way", [(1, "clockwise"), (3, "counter-clockwise")])
def test_a_film_on_its_side_is_refused_with_the_way_to_turn_it(tmp_path, quarters, way):
    pytest.importorskip("onnxruntime")
    import cv2

    from morpho.errors import MorphoError
    from morpho.io import read_radiograph
    from morpho.pipeline import measure_image

    film = np.round(read_radiograph(SAMPLE).pixels * 255).astype(np.uint8)
    path = tmp_path / "turned.png"
    cv2.imwrite(str(path), np.rot90(film, quarters))  # rot90 turns counter-clockwise
    with pytest.raises(MorphoError, match=f"lies on its side.*turn it a quarter {way}"):
        measure_image(path)


def test_a_film_symmetric_about_its_spine_that_reads_well_is_measured(tmp_path):
    """The sample as PNG (no header gives the view) with its anterior side mirrored onto
    the posterior one across the column: as symmetric as a frontal film, but its endplates
    read as well as a lateral film's (as on lumbar lateral films, soft tissue on both sides),
    so it is measured, not refused as frontal."""
    pytest.importorskip("onnxruntime")
    import cv2
    from scipy.spatial import cKDTree

    from morpho.chain import FRONTAL_SYMMETRY, FilmSettings
    from morpho.io import read_radiograph
    from morpho.label.view import column_symmetry
    from morpho.pipeline import measure_file

    film = np.round(read_radiograph(SAMPLE).pixels * 255).astype(np.uint8)
    truth = pd.read_csv(SAMPLE.with_name("sample_lateral_truth.csv"))
    rows, cols = film.shape
    ys = np.linspace(-rows, 2 * rows, 3000)  # the column, past both ends of the film
    curve = np.stack([np.polyval(np.polyfit(truth["cy"], truth["cx"], 2), ys), ys], 1)
    tangent = np.gradient(curve, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    yy, xx = np.mgrid[:rows, :cols]
    p = np.stack([xx.ravel(), yy.ravel()], 1).astype(float)
    _, near = cKDTree(curve).query(p)
    across = np.einsum("ij,ij->i", p - curve[near], normal[near])
    source = np.where(across[:, None] < 0, p - 2 * across[:, None] * normal[near], p)
    maps = source.reshape(rows, cols, 2).astype(np.float32)
    path = tmp_path / "symmetric.png"
    cv2.imwrite(str(path), cv2.remap(film, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR))
    result = measure_file(path, FilmSettings())
    assert column_symmetry(result.radiograph.pixels, result.table) > FRONTAL_SYMMETRY
    assert len(result.table) >= 10 and result.table["landmark_spread"].median() < 0.15


PA_FILM = shared_data_dir() / "dicom" / "dx_chest_pa_j2k.dcm"


@pytest.mark.shared
@pytest.mark.skipif(not PA_FILM.exists(), reason="needs ../shared/data/dicom")
def test_a_frontal_image_file_is_refused_unless_the_view_is_given(tmp_path):
    """The real PA chest DX exported as PNG (no header): refused as frontal, segmented or
    with the mask and probability ``morpho segment`` writes; measured as lateral when the
    caller says so."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("pylibjpeg")
    import cv2

    from morpho.chain import FilmSettings
    from morpho.errors import MorphoError
    from morpho.io import read_radiograph
    from morpho.pipeline import measure_file

    path = tmp_path / "chest.png"
    cv2.imwrite(str(path), np.round(read_radiograph(PA_FILM).pixels * 255).astype(np.uint8))
    with pytest.raises(MorphoError, match="looks like a frontal film.*--view lateral"):
        measure_file(path, FilmSettings())
    lateral = measure_file(path, FilmSettings(view="lateral"))
    assert len(lateral.table) >= 3
    cv2.imwrite(str(tmp_path / "chest_mask.png"), lateral.mask.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "chest_prob.png"),
                np.round(lateral.probability * 255).astype(np.uint8))
    with pytest.raises(MorphoError, match="looks like a frontal film"):
        measure_file(path, FilmSettings(), mask=tmp_path / "chest_mask.png")


@pytest.mark.parametrize("processing", ["grain", "unsharp"])
def test_the_sample_as_a_processed_small_export_still_has_one_fracture(tmp_path, processing):
    """The sample as a 320-px 8-bit JPEG export, processed once more as a site might
    (film grain, or unsharp masking): the same one call, T12 grade 2 wedge."""
    pytest.importorskip("onnxruntime")
    import cv2

    from morpho.io import read_radiograph
    from morpho.pipeline import measure_image
    from morpho.synth.realism import jpeg_export

    film = read_radiograph(SAMPLE).pixels
    small = jpeg_export(film, np.zeros(film.shape, np.uint8), 320)[0] / 255.0
    if processing == "grain":
        small = small + np.random.default_rng(0).normal(0, 0.03, small.shape)
    else:
        small = small + (small - cv2.GaussianBlur(small, (0, 0), 4.0))
    path = tmp_path / "export.jpg"
    cv2.imwrite(str(path), np.clip(np.round(small * 255), 0, 255).astype(np.uint8))
    _, _, df = measure_image(path, first_level="T2")
    called = df[df["genant_grade"].fillna(0) >= 1]
    assert called[["level", "genant_grade", "genant_type"]].values.tolist() == [
        ["T12", 2, "wedge"]]
