"""The landmark network: body crops and their maps, the ONNX export, its use in measure."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from morpho.landmarks import SIDE, LandmarkModel, body_crop, to_input
from morpho.resources import models_dir

SIX = np.array([[100, 80], [140, 82], [180, 80], [100, 120], [140, 118], [180, 120]], float)


def _film() -> np.ndarray:
    film = np.full((200, 300), 40, np.uint8)
    film[80:120, 100:180] = 200
    return film


def test_a_body_crop_is_centred_on_its_points_and_mirrored_with_the_facing():
    crop, m = body_crop(_film(), SIX, flip=False)
    uv = SIX @ m[:, :2].T + m[:, 2]
    assert crop.shape == (SIDE, SIDE) and np.allclose(uv.mean(axis=0), SIDE / 2)
    assert np.ptp(uv[:, 0]) == pytest.approx(SIDE / 1.7)  # the larger extent, 1.7 times
    u, v = np.round(uv[4]).astype(int)  # mid inferior point: bright above, dark below
    assert crop[v - 3, u] > 150 > crop[v + 3, u]
    mirrored, m2 = body_crop(_film(), SIX, flip=True)
    assert np.array_equal(mirrored, crop[:, ::-1])
    assert np.allclose(SIX @ m2[:, :2].T + m2[:, 2], np.c_[SIDE - 1 - uv[:, 0], uv[:, 1]])


def test_the_export_agrees_with_torch_and_points_map_back_to_the_film(tmp_path):
    torch = pytest.importorskip("torch")
    from morpho.segment.landmarks import LandmarkNet, save_landmarks

    torch.manual_seed(0)
    net = LandmarkNet().eval()
    path = save_landmarks(net, tmp_path / "lm.onnx", "random weights, for the test")
    assert json.loads(path.with_suffix(".json").read_text())["version"].startswith("lm-")
    model = LandmarkModel(path)
    for facing in ("left", "right"):
        placed, spread = model.place(_film(), SIX[None], facing)
        crop, m = body_crop(_film(), SIX, flip=facing == "right")
        with torch.no_grad():
            uv, _, s = net(torch.from_numpy(to_input(crop[None])))
        back = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
        expected = (uv[0].numpy() * SIDE) @ back[:, :2].T + back[:, 2]
        assert np.allclose(placed[0], expected, atol=1e-3)
        assert np.allclose(spread[0], s[0].numpy() * SIDE / (SIDE / (1.7 * 80)), rtol=1e-3)


def test_a_segmenter_whose_model_names_landmarks_measures_with_them(tmp_path):
    pytest.importorskip("onnxruntime")
    from morpho.pipeline import measure_image
    from morpho.segment.infer import Segmenter

    shipped = models_dir() / "vertebra_unet.onnx"
    config = json.loads(shipped.with_suffix(".json").read_text())
    if "landmarks" not in config:
        pytest.skip("the shipped model names no landmark model")
    for suffix in (".onnx", ".json"):
        shutil.copy(shipped.with_suffix(suffix), tmp_path / f"seg{suffix}")
        shutil.copy(models_dir() / f"{config['landmarks'][:-5]}{suffix}", tmp_path)
    segmenter = Segmenter(tmp_path / "seg.onnx", spine_only=False)
    assert segmenter.model_version.endswith(f"+lm-{segmenter.landmarks.version[-12:]}")
    sample = models_dir().parent / "samples" / "sample_lateral.dcm"
    _, _, df = measure_image(sample, segmenter=segmenter, first_level="T2")
    assert (df["points_source"] == "landmarks").mean() > 0.8
    config.pop("landmarks")
    (tmp_path / "seg.json").write_text(json.dumps(config))
    _, _, plain = measure_image(sample, segmenter=Segmenter(tmp_path / "seg.onnx",
                                                            spine_only=False),
                                first_level="T2")
    assert "landmarks" not in set(plain["points_source"])


def test_a_chain_cut_body_is_graded_only_with_the_landmark_points():
    from morpho.label import Vertebra
    from morpho.label.labelling import DOUBTFUL_SPLITS
    from morpho.measure import _ungradable

    v = Vertebra(np.arange(4), np.arange(4), (1.0, 1.0), level="T8", split="chain",
                 doubtful=DOUBTFUL_SPLITS["chain"])
    col = {k: np.array([value]) for k, value in {
        "found": True, "solidity": 0.95, "aspect": 0.8, "neighbour_ratio": 1.0,
        "plausible": True, "no_disc": "", "confidence": 0.95}.items()}
    on_outline = _ungradable(v, {**col, "points_source": ["image"]}, 0, True, True)
    assert on_outline == [DOUBTFUL_SPLITS["chain"]]
    assert _ungradable(v, {**col, "points_source": ["landmarks"]}, 0, True, True) == []
    v.doubtful = "may hold two bodies (1.9x the neighbours' height)"
    assert _ungradable(v, {**col, "points_source": ["landmarks"]}, 0, True, True) == [
        v.doubtful]


def test_a_short_split_or_less_sure_body_is_graded_only_with_the_landmark_points():
    from morpho.label import Vertebra
    from morpho.measure import _ungradable

    v = Vertebra(np.arange(4), np.arange(4), (1.0, 1.0), level="T12", split="cores")
    col = {k: np.array(values) for k, values in {
        "found": [True] * 3, "solidity": [0.95] * 3, "aspect": [0.8, 0.45, 0.8],
        "neighbour_ratio": [1.0, 0.55, 1.0], "plausible": [True, False, True],
        "no_disc": [""] * 3, "confidence": [0.95] * 3, "wedge_ratio": [0.9, 0.95, 0.9]}.items()}
    on_outline = _ungradable(v, {**col, "points_source": ["image"] * 3}, 1, True, True)
    assert on_outline == ["implausible outline (predicted)"]  # maybe half a body
    assert _ungradable(v, {**col, "points_source": ["landmarks"] * 3}, 1, True, True) == []
    col["confidence"] = np.array([0.95, 0.85, 0.95])  # over MIN_CONFIDENCE, under 0.9
    v.split = ""
    on_outline = _ungradable(v, {**col, "points_source": ["image"] * 3}, 1, True, True)
    assert on_outline == ["implausible outline (predicted)"]
    assert _ungradable(v, {**col, "points_source": ["landmarks"] * 3}, 1, True, True) == []


def _shipped_landmarks() -> LandmarkModel:
    config = json.loads((models_dir() / "vertebra_unet.json").read_text())
    if "landmarks" not in config:
        pytest.skip("the shipped model names no landmark model")
    return LandmarkModel(models_dir() / config["landmarks"])


@pytest.mark.parametrize("facing", ["left", "right"])
def test_the_landmark_network_turns_a_wrong_facing_unless_it_was_given(facing):
    from dataclasses import replace

    from morpho.label import label_bodies
    from morpho.measure import measure_labelling
    from morpho.synth.phantom import PhantomParams, render_phantom

    params = PhantomParams.sample(np.random.default_rng(3), (512, 512), left_share=0.0
                                  if facing == "right" else 1.0)
    synth = render_phantom(replace(params, size=(1024, 1024), pixel_mm=params.pixel_mm / 2))
    assert synth.facing == facing
    lab = label_bodies(synth.mask, pixels=synth.image)
    wrong = "left" if facing == "right" else "right"
    model = _shipped_landmarks()
    guessed = measure_labelling(replace(lab, facing=wrong, facing_source="curvature"),
                                pixels=synth.image, landmarks=model)
    assert set(guessed["facing"]) == {facing} and set(guessed["facing_source"]) == {"landmarks"}
    ant_right = (guessed["ant_sup_x"] > guessed["post_sup_x"]).mean()
    assert ant_right == (1.0 if facing == "right" else 0.0)
    kept = measure_labelling(replace(lab, facing=facing, facing_source="curvature"),
                             pixels=synth.image, landmarks=model)
    assert set(kept["facing_source"]) == {"curvature"}
    assert np.allclose(kept["hp_px"], guessed["hp_px"], rtol=0.01)
    given = measure_labelling(replace(lab, facing=wrong, facing_source="override"),
                              pixels=synth.image, landmarks=model)
    assert set(given["facing"]) == {wrong} and set(given["facing_source"]) == {"override"}


def test_the_two_step_path_measures_with_the_shipped_landmarks_too(tmp_path):
    pytest.importorskip("onnxruntime")
    from typer.testing import CliRunner

    from morpho.cli import app
    from morpho.pipeline import measure_image

    sample = models_dir().parent / "samples" / "sample_lateral.dcm"
    config = json.loads((models_dir() / "vertebra_unet.json").read_text())
    if "landmarks" not in config or not sample.exists():
        pytest.skip("no landmark model or no sample")
    result = CliRunner().invoke(app, ["segment", str(sample), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    mask = next(tmp_path.rglob("*_mask.png"))
    _, _, two_step = measure_image(sample, mask=mask, first_level="T2")
    _, _, one_step = measure_image(sample, first_level="T2")
    assert set(two_step["points_source"]) == {"landmarks"}
    both = one_step.merge(two_step, on="level", suffixes=("", "_2"))
    assert len(both) >= 13
    assert np.allclose(both["hp_px"], both["hp_px_2"], rtol=0.03)
    assert both["genant_grade"].fillna(-1).tolist() == both["genant_grade_2"].fillna(-1).tolist()


def test_a_too_narrow_outline_takes_its_depth_from_the_landmark_points():
    """Outlines cut 28 px narrower (bodies under the shoulders lose their walls): alone they
    read too tall for their depth; with the network's points the depth is the film's."""
    from dataclasses import replace

    import cv2

    from morpho.label import label_bodies
    from morpho.measure import measure_labelling
    from morpho.synth.phantom import PhantomParams, render_phantom

    model = _shipped_landmarks()
    params = PhantomParams.sample(np.random.default_rng(3), (512, 512), left_share=1.0)
    synth = render_phantom(replace(params, size=(1024, 1024), pixel_mm=params.pixel_mm / 2))
    whole = measure_labelling(label_bodies(synth.mask, pixels=synth.image), pixels=synth.image)
    narrow = cv2.erode(synth.mask.view(np.uint8), np.ones((1, 29), np.uint8)) > 0
    lab = label_bodies(narrow, pixels=synth.image)
    outline = measure_labelling(lab, pixels=synth.image)
    points = measure_labelling(lab, pixels=synth.image, landmarks=model)
    assert len(outline) == len(points) == len(whole)
    upper = slice(0, 6)  # the smallest bodies lose the largest share of their depth
    assert (outline["aspect"][upper] > 1.25).all() and not outline["plausible"][upper].any()
    assert np.allclose(points["aspect"][upper], whole["aspect"][upper], rtol=0.12)
    assert points["plausible"][upper].all()


class _WholeBodies:
    """A stand-in landmark model that reads every crop as the whole body it lies on."""

    def __init__(self, boxes: list[tuple[int, int, int, int]]):
        self.boxes = boxes  # top, bottom, left, right of each true body

    def place(self, film, points, facing):
        out = []
        for six in points:
            y = six[:, 1].mean()
            top, bottom, left, right = next(b for b in self.boxes if b[0] - 2 <= y <= b[1] + 2)
            mid = (left + right) / 2
            out.append(np.array([[left, top], [mid, top], [right, top],
                                 [left, bottom], [mid, bottom], [right, bottom]], float))
        return np.array(out), np.full((len(out), 6), 1.0)


@pytest.mark.parametrize("given", [{"first_level": "T4"}, {"last_level": "T9"}])
def test_a_body_cut_in_two_and_read_whole_twice_is_one_row_and_the_names_follow(given):
    """The labelling cut one body in two; the landmark network, given a crop around each
    half, placed the whole body's points both times. One row, and the level names count
    bodies, not pieces, from whichever end was given."""
    from morpho.measure import measure_mask

    mask = np.zeros((420, 200), bool)
    boxes = [(20 + i * 64, 20 + i * 64 + 49, 70, 130) for i in range(6)]
    for top, bottom, left, right in boxes:
        mask[top:bottom + 1, left:right + 1] = True
    top = boxes[2][0]
    mask[top + 23:top + 27] = False  # body 3 (T6) cut in two halves
    film = np.where(mask, 200, 40).astype(np.uint8)
    plain = measure_mask(mask, pixels=film, anterior="left", **given)
    assert len(plain) == 7  # the labelling alone keeps both halves
    df = measure_mask(mask, pixels=film, anterior="left", landmarks=_WholeBodies(boxes),
                      **given)
    assert list(df["level"]) == ["T4", "T5", "T6", "T7", "T8", "T9"]
    assert list(df["index"]) == [1, 2, 3, 4, 5, 6]
    assert "joined with the piece" in df["qa"].iloc[2]
    assert df["hp_px"].iloc[2] == pytest.approx(49, abs=1)


def test_a_joined_body_whose_piece_the_film_edge_cut_stays_cut_and_ungraded():
    from morpho.measure import measure_mask

    class LowerIsSurer(_WholeBodies):  # the lower piece's reading is kept
        def place(self, film, points, facing):
            placed, _ = super().place(film, points, facing)
            return placed, np.array([[1000.0 - six[:, 1].mean()] * 6 for six in points])

    mask = np.zeros((420, 200), bool)
    boxes = [(-10 + i * 64, -10 + i * 64 + 49, 70, 130) for i in range(6)]
    for top, bottom, left, right in boxes:
        mask[max(top, 0):bottom + 1, left:right + 1] = True
    mask[12:15] = False  # the body the top edge cuts, in two pieces
    film = np.where(mask, 200, 40).astype(np.uint8)
    df = measure_mask(mask, pixels=film, anterior="left", first_level="T4",
                      landmarks=LowerIsSurer(boxes))
    assert list(df["level"]) == ["T3", "T4", "T5", "T6", "T7", "T8"]
    assert "touches the image border" in df["qa"].iloc[0]
    assert df["genant_type"].iloc[0] == "ungradable"
