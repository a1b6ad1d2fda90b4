"""A segmenter's core output parts merged bodies at the disc, where its body probability
dips elsewhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
from measure_shapes import render_spine

from morpho.measure import measure_mask
from morpho.segment.losses import core_mask

NORMAL = (40.0, 40.0, 40.0)


def _bridged_with_a_dip_inside_a_body():
    """Eight bodies whose mask bridges every disc at full probability, with the body
    probability dipping a quarter of the way down inside T9 (under its dense top), as the
    shipped model draws a bridged disc; the truth's cores, as a core output draws them."""
    truth, bodies = render_spine([NORMAL] * 8, gap=6.0)
    cores = core_mask(truth).astype(np.float32)
    mask = truth.copy()
    for upper, lower in zip(bodies, bodies[1:], strict=False):
        top, bottom = int(upper.outline[:, 1].max()), int(np.ceil(lower.outline[:, 1].min()))
        left = int(np.ceil(max(upper.outline[:, 0].min(), lower.outline[:, 0].min())))
        right = int(min(upper.outline[:, 0].max(), lower.outline[:, 0].max()))
        mask[top : bottom + 1, left : right + 1] = True
    prob = np.where(mask, 0.99, 0.02).astype(np.float32)
    for body in bodies:  # dips a quarter down each body
        cut = int(body.outline[:, 1].min() + 10)
        prob[cut : cut + 2] = np.where(mask[cut : cut + 2], 0.6, 0.02)
    return mask, prob, cores, bodies


def test_without_cores_the_dips_cut_through_bone():
    mask, prob, _, bodies = _bridged_with_a_dip_inside_a_body()
    df = measure_mask(mask, first_level="T5", probability=prob)
    truth = np.array([b.heights() for b in bodies])[1:-1]
    inner = df[df["level"].isin([f"T{k}" for k in range(6, 12)])]
    assert len(inner) == 6
    # each part runs from a quarter down one body to a quarter down the next
    assert np.abs(inner[["hp_px"]].to_numpy().ravel() - truth[:, 2]).max() < 10
    assert (inner["cy"].to_numpy() - [np.mean(b.outline[:, 1]) for b in bodies[1:-1]]).min() > 8


def test_with_cores_the_parts_meet_at_the_discs():
    mask, prob, cores, bodies = _bridged_with_a_dip_inside_a_body()
    df = measure_mask(mask, first_level="T5", probability=prob, cores=cores)
    assert list(df["level"]) == [f"T{k}" for k in range(5, 13)]
    centres = np.array([np.mean(b.outline[:, 1]) for b in bodies])
    assert np.abs(df["cy"].to_numpy() - centres).max() < 2.5
    truth = np.array([b.heights() for b in bodies])
    excess = df[["ha_px", "hm_px", "hp_px"]].to_numpy() - truth
    assert (excess > -1.5).all() and (excess < 6.0 + 1.5).all()  # half a disc each end at most
    assert df["genant_grade"].iloc[1:-1].eq(0).all()
    assert not df["qa"].str.contains("bone beyond").any()


def test_cores_are_reduced_with_the_mask_on_large_films():
    mask, prob, cores, _ = _bridged_with_a_dip_inside_a_body()
    big = [np.kron(a, np.ones((5, 5), a.dtype)) for a in (mask, prob, cores)]  # reduced 2x
    small = measure_mask(mask, first_level="T5", probability=prob, cores=cores)
    large = measure_mask(big[0], first_level="T5", probability=big[1], cores=big[2])
    assert list(large["level"]) == list(small["level"])
    ratio = large["hp_px"].to_numpy() / small["hp_px"].to_numpy()
    assert np.allclose(ratio, 5, atol=0.3)
    assert pd.Series(large["genant_grade"].iloc[1:-1]).eq(0).all()


def test_a_mask_file_keeps_the_core_probability_segment_wrote_beside_it(tmp_path):
    import cv2

    from morpho.pipeline import measure_image

    mask, prob, cores, bodies = _bridged_with_a_dip_inside_a_body()
    cv2.imwrite(str(tmp_path / "film.png"), (mask * 200 + 30).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "film_mask.png"), mask.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "film_prob.png"), np.round(prob * 255).astype(np.uint8))
    _, _, dips = measure_image(tmp_path / "film.png", mask=tmp_path / "film_mask.png",
                               first_level="T5")  # fmt: skip
    cv2.imwrite(str(tmp_path / "film_core.png"), np.round(cores * 255).astype(np.uint8))
    _, _, parted = measure_image(tmp_path / "film.png", mask=tmp_path / "film_mask.png",
                                 first_level="T5")  # fmt: skip
    centres = np.array([np.mean(b.outline[:, 1]) for b in bodies])
    assert np.abs(parted["cy"].to_numpy() - centres).max() < 2.5
    assert np.abs(dips["cy"].to_numpy()[1:-1] - centres[1:-1]).min() > 2.5
