"""`morpho measure` and `pipeline.measure_image` on small files written by the tests."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from measure_shapes import render_spine
from typer.testing import CliRunner

from morpho.cli import app
from morpho.measure import MEASUREMENT_COLUMNS
from morpho.pipeline import measure_image

NORMAL = (40.0, 40.0, 40.0)


@pytest.fixture
def films(tmp_path):
    """Two images (bodies bright on noise) and a folder of <stem>_mask.png."""
    masks = tmp_path / "masks"
    masks.mkdir()
    rng = np.random.default_rng(1)
    for stem, n in (("a", 8), ("b", 6)):
        mask, _ = render_spine([NORMAL] * n, bulge=20)
        image = (60 + 120 * mask + rng.normal(0, 8, mask.shape)).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / f"{stem}.png"), image)
        cv2.imwrite(str(masks / f"{stem}_mask.png"), mask.astype(np.uint8) * 255)
    return tmp_path


def test_cli_writes_csv_and_overlays(films):
    out = films / "out"
    result = CliRunner().invoke(
        app, ["measure", str(films / "a.png"), str(films / "b.png"), "--mask", str(films / "masks"),
              "--out", str(out), "--first-level", "t5"],
    )
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out / "measurements.csv")
    assert list(df.columns[: len(MEASUREMENT_COLUMNS)]) == MEASUREMENT_COLUMNS
    assert df.groupby("image").size().to_dict() == {"a": 8, "b": 6}
    assert df[df.image == "a"]["level"].tolist() == [f"T{i}" for i in range(5, 13)]
    graded = int((df["genant_type"].notna() & (df["genant_type"] != "ungradable")).sum())
    assert f"{int(df['plausible'].sum())} plausible, {graded} gradable" in result.output
    png = cv2.imread(str(out / "a_measure.png"))
    assert png is not None and png.shape[:2] == (900, 514)  # 700x400 enlarged to be read
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_cli_folder_input_skips_the_mask_and_output_folders(films):
    result = CliRunner().invoke(
        app, ["measure", str(films), "--mask", str(films / "masks"), "--out", str(films / "out")]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(films / "out" / "measurements.csv")) == 14


def test_cli_bad_file_is_one_line_and_exit_1(films):
    (films / "bad.png").write_bytes(b"not an image")
    (films / "masks" / "bad_mask.png").write_bytes(b"x")
    result = CliRunner().invoke(
        app, ["measure", str(films / "a.png"), str(films / "bad.png"),
              "--mask", str(films / "masks"), "--out", str(films / "out")],
    )
    assert result.exit_code == 1
    assert "error:" in result.output and "bad.png" in result.output
    assert "Traceback" not in result.output
    assert len(pd.read_csv(films / "out" / "measurements.csv")) == 8


def test_cli_rejects_unknown_level(films):
    result = CliRunner().invoke(
        app, ["measure", str(films / "a.png"), "--mask", str(films / "masks"),
              "--out", str(films / "out"), "--first-level", "X9"],
    )
    assert result.exit_code == 1 and "unknown level" in result.output


class FakeSegmenter:
    def __init__(self, mask):
        self.mask = mask

    def segment(self, pixels):
        return self.mask, None


def test_measure_image_with_a_segmenter(films):
    mask = cv2.imread(str(films / "masks" / "a_mask.png"), cv2.IMREAD_GRAYSCALE) > 0
    rg, got, df = measure_image(films / "a.png", segmenter=FakeSegmenter(mask), anterior="right")
    assert got.shape == rg.shape and len(df) == 8
    assert (df["facing"] == "right").all() and (df["image"] == "a").all()
    rg, _, df_ap = measure_image(films / "a.png", mask=films / "masks" / "a_mask.png", view="ap")
    assert (df_ap["view"] == "ap").all()


def test_cli_without_mask_or_model_fails_once(films, monkeypatch):
    import morpho.segment.infer as infer

    monkeypatch.setattr(infer, "default_model_path", lambda: films / "missing.onnx")
    result = CliRunner().invoke(
        app, ["measure", str(films / "a.png"), str(films / "b.png"), "--out", str(films / "o")]
    )
    assert result.exit_code == 1
    assert result.output.count("error:") == 1 and "--mask" in result.output


def test_cli_model_option_names_the_model(films):
    missing = films / "mine.onnx"
    result = CliRunner().invoke(
        app, ["measure", str(films / "a.png"), "--out", str(films / "o"), "--model", str(missing)]
    )
    assert result.exit_code == 1
    assert result.output.count("error:") == 1 and "mine.onnx" in result.output
    from morpho.segment.infer import default_model_path

    shipped = str(default_model_path())
    film = _phantom_png(films / "phantom.png")
    result = CliRunner().invoke(
        app, ["measure", str(film), "--out", str(films / "o"), "--model", shipped]
    )
    assert result.exit_code == 0 and (films / "o" / "measurements.csv").exists()


def test_frontal_header_is_refused_unless_the_view_is_given(films):
    from morpho.io import write_dicom

    image = cv2.imread(str(films / "a.png"), cv2.IMREAD_GRAYSCALE)
    write_dicom(films / "pa.dcm", image, spacing_mm=(0.2, 0.2), view="pa")
    mask = films / "masks" / "a_mask.png"
    args = ["measure", str(films / "pa.dcm"), "--mask", str(mask), "--out", str(films / "out")]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1
    assert "pa.dcm: frontal film (PA view in the header)" in refused.output
    measured = CliRunner().invoke(app, [*args, "--view", "ap"])
    assert measured.exit_code == 0, measured.output
    assert len(pd.read_csv(films / "out" / "measurements.csv")) == 8


def test_a_mask_file_keeps_the_probability_segment_wrote_beside_it(tmp_path):
    from test_measure import _merged_spine_and_probability

    mask, prob, _ = _merged_spine_and_probability(dip=0.6)
    cv2.imwrite(str(tmp_path / "film.png"), (mask * 200 + 30).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "film_mask.png"), mask.astype(np.uint8) * 255)
    _, _, alone = measure_image(tmp_path / "film.png", mask=tmp_path / "film_mask.png")
    cv2.imwrite(str(tmp_path / "film_prob.png"), np.round(prob * 255).astype(np.uint8))
    _, _, parted = measure_image(tmp_path / "film.png", mask=tmp_path / "film_mask.png")
    assert len(alone) < len(parted) == 8


def _phantom_png(path, **params):
    """A phantom lateral film (morpho.synth) as a PNG, for the default model."""
    from morpho.synth.phantom import PhantomParams, render_phantom

    image = render_phantom(PhantomParams(size=(700, 400), **params)).image
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)  # 16 bit
    return path


@pytest.fixture
def same_names(tmp_path):
    """films/a/x.png and films/b/x.png: two different phantom films."""
    _phantom_png(tmp_path / "films" / "a" / "x.png", top_level="C7")
    _phantom_png(tmp_path / "films" / "b" / "x.png", top_level="T4", texture_seed=3)
    return tmp_path / "films"


def test_segment_twice_into_the_input_folder_mirrors_the_tree(same_names):
    out = same_names / "out"
    for _ in range(2):  # the second run must not segment the first one's outputs
        result = CliRunner().invoke(app, ["segment", str(same_names), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "2 of 2 segmented" in result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == [f"{d}/x_{kind}.png" for d in "ab" for kind in ("mask", "overlay", "prob")]
    a, b = (cv2.imread(str(out / d / "x_mask.png"), cv2.IMREAD_GRAYSCALE) for d in "ab")
    assert a.shape == b.shape and not np.array_equal(a, b)
    for _ in range(2):  # into the input folder itself: its outputs are not inputs either
        result = CliRunner().invoke(app, ["segment", str(same_names), "--out", str(same_names)])
        assert "2 of 2 segmented" in result.output, result.output


def _measure(out, *args):
    result = CliRunner().invoke(app, ["measure", *map(str, args), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out / "measurements.csv")


def test_measure_keeps_same_named_files_apart(same_names):
    masks = same_names.parent / "masks"
    CliRunner().invoke(app, ["segment", str(same_names), "--out", str(masks)])
    for given in (False, True):  # the model, then segment's mirrored masks
        extra, out = (["--mask", masks] if given else []), same_names.parent / f"out{given}"
        df = _measure(out, same_names / "a" / "x.png", same_names / "b" / "x.png", *extra)
        alone = {
            d: len(_measure(out / d, same_names / d, *(["--mask", masks / d] if given else [])))
            for d in "ab"
        }
        assert df.groupby("image").size().to_dict() == {"a/x": alone["a"], "b/x": alone["b"]}
        assert alone["a"] != alone["b"] and set(df["file"]) == {"a/x.png", "b/x.png"}
        assert (out / "a" / "x_measure.png").is_file() and (out / "b" / "x_measure.png").is_file()
