"""Phantom: determinism, masks against the truth points, heights on an axis-aligned phantom."""

from __future__ import annotations

import numpy as np
import pytest
from synth_helpers import outline_from_points, polygon_area_centroid, six_points

from morpho.synth import DATASET_LEVELS
from morpho.synth.fractures import make_fracture
from morpho.synth.phantom import PhantomParams, render_phantom


def _sample(seed: int, **kw):
    rng = np.random.default_rng(seed)
    return render_phantom(PhantomParams.sample(rng, (256, 256), **kw))


def test_same_seed_same_phantom_and_truth():
    a, b, c = _sample(7, fracture_rate=0.3), _sample(7, fracture_rate=0.3), _sample(8)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert a.truth.equals(b.truth) and a.fractures == b.fractures
    assert not np.array_equal(a.image, c.image)
    assert a.image.dtype == np.uint16 and a.image.max() > 30000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mask_area_and_centroid_match_truth_points(seed):
    synth = _sample(seed, fracture_rate=0.2)
    assert len(synth.truth) >= 5
    for _, row in synth.truth.iterrows():
        mask = synth.labels == DATASET_LEVELS.index(row.level) + 1
        ys, xs = np.nonzero(mask)
        assert row.area_px == xs.size
        # the 6 points span 84% of the depth (8%..92% columns): a polygon inside the body
        area, centroid = polygon_area_centroid(outline_from_points(six_points(row)))
        if not row.complete:
            continue
        assert 0.8 * area < xs.size < 1.35 * area / 0.84
        assert np.hypot(*(centroid - [xs.mean(), ys.mean()])) < 1.5


def test_heights_measured_on_axis_aligned_phantom():
    wedge = make_fracture("wedge", 3)
    params = PhantomParams(size=(512, 512), pixel_mm=0.5, axis_aligned=True, top_level="T6",
                           fractures={"T9": wedge})
    synth = render_phantom(params)
    checked = 0
    for _, row in synth.truth[synth.truth.complete].iterrows():
        mask = synth.labels == DATASET_LEVELS.index(row.level) + 1
        for col in ("ant", "mid", "post"):
            x = int(round(row[f"{col}_sup_x"]))
            assert abs(row[f"{col}_sup_x"] - row[f"{col}_inf_x"]) < 1e-6  # vertical columns
            measured = mask[:, x].sum()
            assert abs(measured - row[f"h{col[0]}_px"]) <= 1.5, (row.level, col)
            assert row[f"h{col[0]}_mm"] == pytest.approx(row[f"h{col[0]}_px"] * 0.5)
        checked += 1
    assert checked >= 6
    t9 = synth.truth.set_index("level").loc["T9"]
    intact = render_phantom(PhantomParams(size=(512, 512), pixel_mm=0.5, axis_aligned=True,
                                          top_level="T6")).truth.set_index("level").loc["T9"]
    assert t9.fracture_type == "wedge" and t9.fracture_grade == 3
    assert t9.ha_px / t9.hp_px == pytest.approx(1 - wedge.loss, abs=0.01)  # Genant's ratio
    assert t9.hp_px == pytest.approx(intact.hp_px, abs=0.01)


@pytest.mark.parametrize("kind", ["wedge", "biconcave", "crush"])
@pytest.mark.parametrize("grade", [1, 2, 3])
def test_a_built_fracture_has_the_built_grade_by_its_true_heights(kind, grade):
    from morpho.grade import genant

    fracture = make_fracture(kind, grade)
    params = PhantomParams(size=(512, 512), pixel_mm=0.5, top_level="T6", concavity=0.05,
                           fractures={"T9": fracture})
    truth = render_phantom(params).truth.set_index("level")
    t9 = truth.loc["T9"]
    near = truth.loc[["T8", "T10"], "hp_px"].mean()
    got = genant(t9.ha_px / t9.hp_px, t9.hm_px / t9.hp_px, t9.hp_px / near)
    assert got[:2] == (grade, kind)
    intact = [genant(r.ha_px / r.hp_px, r.hm_px / r.hp_px, 1.0)[0]
              for r in truth.drop(index="T9").itertuples()]
    assert intact == [0] * len(intact)
