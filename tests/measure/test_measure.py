"""Morphometry on rendered spines with exactly known geometry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from measure_shapes import render_film, render_spine
from scipy.ndimage import label as ndi_label

from morpho.grade import genant
from morpho.label import spine_only
from morpho.measure import EXTRA_COLUMNS, MEASUREMENT_COLUMNS, measure_mask

NORMAL = (40.0, 40.0, 40.0)
# normal bodies, then a wedge (grade 2), a biconcave (grade 2) and a crush (grade 3)
SPINE = [NORMAL] * 3 + [(25.0, 40.0, 40.0)] + [NORMAL] * 2 + [(38.0, 24.0, 38.0)] + [
    NORMAL
] * 2 + [(20.0, 20.0, 20.0)] + [NORMAL] * 2


def truth_table(bodies) -> tuple[np.ndarray, list[int | None]]:
    h = np.array([b.heights() for b in bodies])
    hp = h[:, 2]
    grades = []
    for i in range(len(h)):
        near = [hp[j] for j in (i - 1, i + 1) if 0 <= j < len(h)]
        grade, _, _ = genant(h[i, 0] / hp[i], h[i, 1] / hp[i], hp[i] / np.mean(near))
        grades.append(grade)
    return h, grades


def mape(df, truth: np.ndarray) -> float:
    measured = df[["ha_px", "hm_px", "hp_px"]].to_numpy(float)
    return float(np.mean(np.abs(measured / truth - 1)) * 100)


@pytest.mark.parametrize("angle", [0.0, 25.0, -35.0])
def test_heights_counts_and_grades_on_exact_geometry(angle):
    mask, bodies = render_spine(SPINE, angle_deg=angle, bulge=15, shape=(800, 800))
    df = measure_mask(mask)
    truth, grades = truth_table(bodies)
    assert len(df) == len(bodies)
    assert mape(df, truth) < 2.0
    assert list(df["genant_grade"]) == grades
    assert list(df["genant_type"])[3] == "wedge"
    assert list(df["genant_type"])[6] == "biconcave"
    assert list(df["genant_type"])[9] == "crush"


def test_rotated_spine_is_ordered_cranial_to_caudal():
    mask, bodies = render_spine([NORMAL] * 10, angle_deg=30, bulge=10, shape=(800, 800))
    df = measure_mask(mask, first_level="T3")
    centres = np.array([b.outline.mean(axis=0) for b in bodies])
    got = df[["cx", "cy"]].to_numpy()
    assert np.abs(got - centres).max() < 2.0  # same bodies, same order
    assert list(df["level"]) == [f"T{i}" for i in range(3, 13)]
    assert list(df["index"]) == list(range(1, 11))


@pytest.mark.parametrize("touch", [0.0, -3.0])
def test_touching_bodies_are_split(touch):
    gaps = [12.0, 12.0, touch, 12.0, touch, touch, 12.0]  # 3+4 and 5+6+7 merge
    mask, bodies = render_spine([NORMAL] * 8, gap=gaps)
    from skimage.measure import label

    assert label(mask).max() == 5
    df = measure_mask(mask)
    assert len(df) == 8
    split = df["qa"].str.contains("split from touching bodies")
    assert list(split) == [False, False, True, True, True, True, True, False]
    # heights cut at the expected size are not trusted for grading
    assert (df["genant_type"][split] == "ungradable").all()
    assert (df["genant_type"][~split] == "normal").all()
    assert np.abs(df["cy"].to_numpy() - [b.outline[:, 1].mean() for b in bodies]).max() < 3


def test_bodies_joined_by_a_bridge_split_at_the_neck():
    mask, bodies = render_spine([NORMAL] * 6, gap=10)
    rows = np.nonzero(mask.any(axis=1))[0]
    mid_gap = [r for r in range(rows.min(), rows.max()) if not mask[r].any()]
    cx = int(np.nonzero(mask.any(axis=0))[0].mean())
    mask[min(mid_gap) : max(mid_gap) + 1, cx - 6 : cx + 6] = True  # bridges across the discs
    df = measure_mask(mask)
    assert len(df) == 6
    assert df["qa"].str.contains("at a neck").all()
    # anterior and posterior heights are clean; the middle one keeps half a bridge each
    hap = df[["ha_px", "hp_px"]].to_numpy()
    assert np.mean(np.abs(hap / 40 - 1)) < 0.02


def test_a_wedged_body_touching_its_neighbour_keeps_its_posterior_height():
    gaps = [12.0, 12.0, -2.0, 12.0, 12.0]  # the wedge's tall posterior wall meets body 4
    heights = [NORMAL] * 3 + [(22.0, 36.0, 44.0)] + [NORMAL] * 2
    mask, bodies = render_spine(heights, gap=gaps, bulge=10)
    df = measure_mask(mask)
    assert len(df) == 6
    truth, _ = truth_table(bodies)
    assert np.abs(df["hp_px"].iloc[3] / truth[3, 2] - 1) < 0.05


def test_missing_level_is_flagged_and_skipped():
    mask, bodies = render_spine([NORMAL] * 10, skip=(4,))
    df = measure_mask(mask, first_level="T4")
    assert len(df) == 9
    assert list(df["level"]) == ["T4", "T5", "T6", "T7", "T9", "T10", "T11", "T12", "L1"]
    assert "likely missing level" in df["qa"].iloc[4]
    assert not df["qa"].iloc[:4].str.contains("missing").any()


@pytest.mark.parametrize("facing", ["left", "right"])
def test_facing_from_kyphosis(facing):
    heights = [NORMAL] * 5 + [(28.0, 40.0, 40.0)] + [NORMAL] * 5
    mask, _ = render_spine(heights, bulge=25, facing=facing)
    df = measure_mask(mask)
    assert (df["facing"] == facing).all()
    assert (df["facing_source"] == "curvature").all()
    ant_left = (df["ant_sup_x"] < df["post_sup_x"]).all()
    assert ant_left == (facing == "left")
    assert df["genant_type"].iloc[5] == "wedge"  # the short anterior side is found


@pytest.mark.parametrize("facing", ["left", "right"])
def test_facing_from_the_image_when_the_spine_is_straight(facing):
    heights = [NORMAL] * 5 + [(28.0, 40.0, 40.0)] + [NORMAL] * 2
    mask, _ = render_spine(heights, facing=facing)  # no bulge: the curvature cannot tell
    pixels = np.where(mask, 0.8, 0.2)
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    behind = slice(cols[-1] + 8, cols[-1] + 30) if facing == "left" else slice(
        cols[0] - 30, cols[0] - 8)
    pixels[rows[0] : rows[-1], behind] = 0.7  # the posterior elements
    small = pixels[::2, ::2]  # a reduced copy, as batch decodes
    for image in (pixels, small):
        df = measure_mask(mask, pixels=image)
        assert (df["facing"] == facing).all()
        assert (df["facing_source"] == "image").all()
        assert df["genant_type"].iloc[5] == "wedge"
    assert (measure_mask(mask)["facing_source"] == "default").all()


def test_anterior_override_wins():
    mask, _ = render_spine([NORMAL] * 8, bulge=25, facing="left")
    df = measure_mask(mask, anterior="right")
    assert (df["facing"] == "right").all()
    assert (df["facing_source"] == "override").all()
    assert (df["ant_sup_x"] > df["post_sup_x"]).all()


def test_empty_mask_gives_an_empty_table_with_the_columns():
    df = measure_mask(np.zeros((300, 200), bool))
    assert df.empty
    assert list(df.columns) == MEASUREMENT_COLUMNS + EXTRA_COLUMNS


def test_noise_specks_are_dropped_with_a_reason():
    mask, bodies = render_spine([NORMAL] * 8)
    rng = np.random.default_rng(0)
    for r, c in zip(rng.integers(0, 700, 40), rng.integers(0, 400, 40), strict=True):
        mask[r : r + 2, c : c + 3] = True
    mask[300:312, 40:52] = True  # a larger fragment away from the spine
    df = measure_mask(mask)
    assert len(df) == 8
    assert df["qa"].str.contains("dropped speck").any()
    assert len(df.attrs["dropped"]) >= 30
    truth, _ = truth_table(bodies)
    assert mape(df, truth) < 2.0


def test_spine_only_keeps_the_bodies_whole_and_drops_the_rest():
    spine, _ = render_spine([NORMAL] * 8)
    mask = spine.copy()
    mask[100:103, 30:33] = True  # a speck
    mask[300:340, 20:60] = True  # a body-sized blob far off the spine curve
    assert np.array_equal(spine_only(mask), spine)
    assert not spine_only(np.zeros((50, 50), bool)).any()


def test_columns_units_and_spacing():
    mask, _ = render_spine([NORMAL] * 6)
    df = measure_mask(mask, spacing_mm=(0.2, 0.1), spacing_source="dicom", image="x")
    assert list(df.columns[: len(MEASUREMENT_COLUMNS)]) == MEASUREMENT_COLUMNS
    assert (df["image"] == "x").all() and (df["spacing_source"] == "dicom").all()
    # vertical heights scale with the row spacing
    assert np.allclose(df["hm_mm"], df["hm_px"] * 0.2, rtol=0.01)
    bare = measure_mask(mask)
    assert bare["hm_mm"].isna().all() and (bare["spacing_source"] == "none").all()


def test_body_at_the_image_border_is_ungradable():
    mask, _ = render_spine([NORMAL] * 6, shape=(330, 200))
    top = np.nonzero(mask.any(axis=1))[0].min()
    df = measure_mask(mask[top + 10 :])
    assert len(df) == 6
    assert df["genant_type"].iloc[0] == "ungradable"
    assert "image border" in df["qa"].iloc[0]
    assert (df["genant_type"].iloc[1:] == "normal").all()


def test_ap_view_is_not_graded():
    mask, _ = render_spine([NORMAL] * 6)
    df = measure_mask(mask, view="ap")
    assert (df["genant_type"] == "ungradable").all()
    assert (df["facing"] == "").all()


def test_ap_suggested_levels_follow_typical_sizes_when_the_spacing_is_known():
    from morpho.label import LEVELS, TYPICAL_MM

    first, n, mm = LEVELS.index("T6"), 10, 0.5  # T6..L3 at 0.5 mm per pixel
    sizes = {k: np.array(v[first - 2 : first - 2 + n]) / mm for k, v in TYPICAL_MM.items()}
    heights = [(h, h, h) for h in sizes["height"]]
    mask, _ = render_spine(heights, depth=list(sizes["width"]), gap=12.0, shape=(900, 400))
    df = measure_mask(mask, spacing_mm=(mm, mm), view="ap")
    assert list(df["suggested_level"]) == list(LEVELS[first : first + n])
    assert (df["level"] == "").all()


def test_lateral_films_get_no_suggested_levels():
    """Lateral body sizes do not tell the level (1% of training-CT DRRs named right), so no
    suggestion is made, however typical the sizes."""
    mask, _ = render_spine([NORMAL] * 6)
    df = measure_mask(mask, spacing_mm=(0.5, 0.5))
    assert (df["suggested_level"] == "").all() and df["suggested_confidence"].isna().all()


def test_ap_suggestion_finds_t1_from_the_width_dip_without_a_spacing():
    """T1 is wider than T2-T5 in AP (AASCE films): relative widths alone place T1."""
    from morpho.label import LEVELS, TYPICAL_MM

    first, n = LEVELS.index("T1"), 8  # T1..T8, no spacing: only relative sizes count
    widths = np.array([32, 29.5, 28.5, 28, 28.5, 29, 30, 31.5]) * 3
    heights = [(h, h, h) for h in np.array(TYPICAL_MM["height"][first - 2 : first - 2 + n]) * 2]
    mask, _ = render_spine(heights, depth=list(widths), gap=12.0, shape=(700, 300))
    df = measure_mask(mask, view="ap")
    assert list(df["suggested_level"]) == list(LEVELS[first : first + n])


def test_a_lone_body_is_measured_upright():
    mask = np.zeros((200, 200), bool)
    mask[80:110, 60:140] = True  # 80 px wide, 30 px tall
    df = measure_mask(mask, view="ap")
    assert len(df) == 1
    assert np.allclose(df[["ha_px", "hm_px", "hp_px"]].to_numpy(), 30, atol=0.5)


@pytest.mark.parametrize("kind", ["pixel", "line", "sparse"])
def test_degenerate_masks_give_no_bodies_and_say_why(kind):
    mask = np.zeros((200, 200), bool)
    if kind == "pixel":
        mask[100, 100] = True
    elif kind == "line":
        mask[20:180, 100] = True
    else:
        mask = np.random.default_rng(0).random((200, 200)) > 0.995
    df = measure_mask(mask)
    assert df.empty and df.attrs["dropped"]


def test_spacing_tells_a_merged_pair_from_one_tall_body():
    from morpho.label.labelling import _spacing_ratio

    regular = np.column_stack([np.full(8, 100.0), np.arange(8) * 50.0])
    merged = np.delete(regular, 4, axis=0)
    merged[3, 1] = 175.0  # the centre of bodies 4 and 5 drawn as one
    assert _spacing_ratio(regular, 3) == pytest.approx(1.0)
    assert _spacing_ratio(merged, 3) == pytest.approx(1.5)
    assert np.isnan(_spacing_ratio(regular[:3], 1))  # too few centres to tell


def test_a_body_below_a_crushed_one_and_above_an_edge_sliver_stays_whole():
    heights = [NORMAL] * 5 + [(18.0, 18.0, 18.0), (44.0, 44.0, 44.0), NORMAL]
    mask, bodies = render_spine(heights, gap=[12.0] * 5 + [30.0, 30.0])
    mask = mask[: int(bodies[-1].outline[:, 1].min()) + 8]  # the last body cut to a sliver
    df = measure_mask(mask)
    assert len(df) == 8
    assert not df["qa"].str.contains("split").any()
    assert df["qa"].iloc[-1].count("image border") >= 1


def tilted_joint_spine(count: int, bridge: bool = False) -> tuple[np.ndarray, list[float]]:
    """Bodies 3 and 4 short, body 4 tilted 4 px so that it overlaps body 3 on one side and
    leaves a wedge open on the other (a notch, no neck), as overlapping annotations and
    merged predictions look; ``bridge`` also joins body 4 to body 5 across the disc (a
    neck). Returns the mask and the bodies' centre rows."""
    from skimage.draw import polygon

    mask, centres, y = np.zeros((420, 260), bool), [], 40.0
    for k in range(count):
        h = 30.0 if k in (2, 3) else 40.0
        top = y - 14.0 if k == 3 else y
        q = np.array([[100, top], [150, top + (4 if k == 3 else 0)], [150, top + h + 4 * (k == 3)],
                      [100, top + h]])
        rr, cc = polygon(q[:, 1], q[:, 0], mask.shape)
        mask[rr, cc] = True
        centres.append(rr.mean())
        if bridge and k == 3:
            mask[int(top + h) : int(y + h + 14), 119:131] = True
        y += h + 12
    return mask, centres


def test_bodies_meeting_at_a_tilted_joint_split_at_the_notch():
    # the pair (two short bodies) is too short to be cut by the expected size
    from skimage.measure import label

    mask, centres = tilted_joint_spine(6)
    assert label(mask).max() == 5
    df = measure_mask(mask)
    assert len(df) == 6
    notch = df["qa"].str.contains("at a notch in the outline")
    assert list(notch) == [False, False, True, True, False, False]
    assert np.abs(df["cy"].to_numpy() - centres).max() < 2


def test_three_bodies_in_one_outline_are_split_at_both_joints():
    # the neck cut leaves a piece of two short bodies, which is split again at its notch
    from skimage.measure import label

    mask, centres = tilted_joint_spine(7, bridge=True)
    assert label(mask).max() == 5
    df = measure_mask(mask)
    assert len(df) == 7
    assert df["qa"].str.contains("split from touching").sum() == 3
    assert np.abs(df["cy"].to_numpy() - centres).max() < 4


def test_the_sacrum_below_l5_is_named_but_not_graded():
    mask, _ = render_spine([NORMAL] * 4 + [(40.0, 26.0, 40.0)])  # last body "biconcave"
    df = measure_mask(mask, first_level="L2")
    assert list(df["level"]) == ["L2", "L3", "L4", "L5", "S1"]
    assert df["genant_type"].iloc[-1] == "ungradable"
    assert "sacrum" in df["qa"].iloc[-1]
    assert (df["genant_type"].iloc[:-1] == "normal").all()


def _column(corner_radius: int, tag: bool = False) -> np.ndarray:
    """Six 40 x 60 px bodies, 12 px apart, corners rounded with the given radius; with
    ``tag`` a 3-px-thin, 12-px-long spur off the posterior wall of each."""
    from scipy.ndimage import binary_opening
    from skimage.morphology import disk

    mask = np.zeros((400, 200), bool)
    for k in range(6):
        top = 20 + k * 52
        body = np.zeros_like(mask)
        body[top : top + 40, 60:120] = True
        if corner_radius:
            body = binary_opening(body, disk(corner_radius))  # rounded corners
        mask |= body
        if tag:
            mask[top + 18 : top + 21, 120:132] = True
    return mask


@pytest.mark.parametrize(("radius", "tag"), [(0, False), (9, False), (0, True)])
def test_rounded_corners_and_spurs_do_not_shorten_the_wall_heights(radius, tag):
    df = measure_mask(_column(radius, tag), anterior="left")
    assert len(df) == 6
    heights = df[["ha_px", "hm_px", "hp_px"]].to_numpy()
    assert np.abs(heights / 40 - 1).max() < 0.03
    assert (df["genant_type"] == "normal").all()


@pytest.mark.parametrize("cut", [5.0, 3.0])
def test_a_body_the_image_edge_cuts_is_counted_once(cut):
    """The edge cuts the last body ``cut`` px below its top corners: through its concave
    endplate (two horns, one body) or, for a flat one, leaving a 3 px sliver."""
    concave = cut == 5.0
    heights = [NORMAL] * 7 + [(40.0, 20.0, 40.0) if concave else NORMAL]
    mask, bodies = render_spine(heights)
    mask = mask[: int(np.ceil(bodies[-1].outline[:, 1].min() + cut))]
    assert (ndi_label(mask[-1])[1] == 2) is concave  # the bottom row shows two pieces
    df = measure_mask(mask, first_level="T5")
    assert list(df["level"]) == [f"T{k}" for k in range(5, 13)]
    assert df["qa"].iloc[-1].count("image border") >= 1
    assert df["qa"].iloc[-1].count("joined from pieces") == int(concave)
    assert df["genant_grade"].iloc[:-1].eq(0).all() and pd.isna(df["genant_grade"].iloc[-1])


def _merged_spine_and_probability(dip: float) -> tuple[np.ndarray, np.ndarray, list]:
    """Eight bodies whose mask bridges every disc (as a model that cannot see faint discs
    draws them), and a body probability of 0.99 inside the bodies and ``dip`` in the discs."""
    mask, bodies = render_spine([NORMAL] * 8, gap=6.0)
    prob = np.where(mask, 0.99, 0.02)
    for upper, lower in zip(bodies, bodies[1:], strict=False):
        top, bottom = int(upper.outline[:, 1].max()), int(np.ceil(lower.outline[:, 1].min()))
        left = int(np.ceil(max(upper.outline[:, 0].min(), lower.outline[:, 0].min())))
        right = int(min(upper.outline[:, 0].max(), lower.outline[:, 0].max()))
        mask[top:bottom + 1, left:right + 1] = True  # as wide as the bodies: no neck
        prob[top:bottom + 1, left:right + 1] = dip
    return mask, prob, bodies


def test_bodies_a_mask_merges_are_parted_between_the_probability_cores():
    mask, prob, bodies = _merged_spine_and_probability(dip=0.6)
    assert len(measure_mask(mask, first_level="T5")) < 8  # one strip: the mask cannot tell
    df = measure_mask(mask, first_level="T5", probability=prob)
    assert list(df["level"]) == [f"T{k}" for k in range(5, 13)]
    assert df["qa"].str.contains("confident cores").sum() == 8
    truth = np.array([b.heights() for b in bodies])
    excess = df[["ha_px", "hm_px", "hp_px"]].to_numpy() - truth
    assert (excess > -1.5).all() and (excess < 6.0 + 1.5).all()  # each part: half a disc each end


def test_a_cut_with_bone_beyond_it_on_the_film_is_not_graded():
    """The model bridges T8/T9's disc and dips inside T9, a quarter down, under T9's dense
    top: the cut between the cores runs through T9's bone, which the film shows beyond the
    lower part's superior endplate. That part is not graded; parts cut at discs are."""
    mask, prob, bodies = _merged_spine_and_probability(dip=0.6)
    film = render_film(mask, bodies, {})
    upper, lower = bodies[3], bodies[4]
    top, bottom = int(upper.outline[:, 1].max()), int(np.ceil(lower.outline[:, 1].min()))
    prob[top : bottom + 1] = np.where(mask[top : bottom + 1], 0.99, 0.02)  # disc bridged
    cut = bottom + 10  # a quarter of T9's 40 px
    prob[cut : cut + 2] = np.where(mask[cut : cut + 2], 0.6, 0.02)
    film[bottom : cut + 2] = np.where(mask[bottom : cut + 2], 0.9, film[bottom : cut + 2])
    df = measure_mask(mask, first_level="T5", probability=prob, pixels=film)
    no_disc = df["qa"].str.contains("bone beyond its superior endplate")
    assert no_disc.sum() == 1
    cut_part = df[no_disc].iloc[0]
    assert pd.isna(cut_part["genant_grade"]) and cut_part["genant_type"] == "ungradable"
    assert cut_part["cy"] > cut  # the part below the cut
    parted = df["qa"].str.contains("confident cores") & ~no_disc
    assert parted.sum() >= 5 and df.loc[parted, "genant_grade"].notna().sum() >= 5


def test_a_probability_dip_inside_one_body_does_not_cut_it():
    mask, bodies = render_spine([NORMAL] * 8)
    prob = np.where(mask, 0.99, 0.02)
    mid = int(round(np.mean(bodies[3].outline[:, 1])))
    prob[mid - 1 : mid + 2] = np.where(mask[mid - 1 : mid + 2], 0.7, 0.02)  # a band across T8
    noisy = prob * np.random.default_rng(0).uniform(0.88, 1.0, prob.shape)  # speckled cores
    for p in (prob, noisy):
        df = measure_mask(mask, first_level="T5", probability=p)
        assert list(df["level"]) == [f"T{k}" for k in range(5, 13)]
        assert not df["qa"].str.contains("confident cores").any()


def test_h_maxima_matches_skimage():
    from skimage.morphology import h_maxima as reference

    from morpho.label.geometry import distance_map
    from morpho.label.split import h_maxima

    mask, _ = render_spine([NORMAL] * 4, gap=-3.0, angle_deg=20)  # overlapping: necks
    rng = np.random.default_rng(0)
    for image, hs in ((distance_map(mask), (0.3, 2.0, 6.0)),
                      (rng.random((40, 50)).astype(np.float32), (0.05, 0.3))):
        for h in hs:
            assert np.array_equal(h_maxima(image, h), reference(image, h))


@pytest.mark.parametrize("facing", ["left", "right"])
def test_facing_of_a_whole_spine_without_level_names(facing):
    """T1-L5 in view, no first level, no spacing: the kyphosis is the longer side of the
    turn (taking every body as thoracic mixes in the lordosis)."""
    from morpho.synth.phantom import PhantomParams, render_phantom

    params = PhantomParams(size=(700, 400), pixel_mm=1.2, top_level="T1", facing=facing,
                           kyphosis_deg=30.0, lordosis_deg=60.0)
    synth = render_phantom(params)
    df = measure_mask(synth.mask)
    assert len(df) == len(synth.truth) >= 15
    assert (df["facing"] == facing).all() and (df["facing_source"] == "curvature").all()


def test_heights_stay_precise_at_any_rotation():
    """60 px bodies at seven angles: each endplate point is the mean over nearby columns,
    so the pixel steps of a rotated outline average out (worst film 0.79% before, 0.55%)."""
    worst = 0.0
    for angle in (-17, -9, -4, 3, 8, 13, 21):
        mask, bodies = render_spine([(60.0, 52.0, 64.0)] * 8, angle_deg=angle, gap=14.0,
                                    depth=80.0, shape=(1000, 700))
        truth = np.array([b.heights() for b in bodies])
        got = measure_mask(mask)[["ha_px", "hm_px", "hp_px"]].to_numpy()
        worst = max(worst, float(np.abs(got / truth - 1).mean()))
    assert worst < 0.0065


def test_a_severe_biconcave_fracture_is_graded_not_called_irregular():
    # Hm/Hp 0.5: the hull misses 27% of the outline, all of it the endplates' central dip
    mask, _ = render_spine([NORMAL] * 3 + [(40.0, 18.0, 40.0)] + [NORMAL] * 3)
    df = measure_mask(mask)
    assert (df["genant_grade"].iloc[3], df["genant_type"].iloc[3]) == (3, "biconcave")
    assert (df["genant_type"].drop(index=3) == "normal").all()


def test_a_notch_into_the_wall_is_still_an_irregular_outline():
    from skimage.draw import polygon

    mask, bodies = render_spine([NORMAL] * 7)
    x, y = bodies[3].outline[[0, 5]].mean(axis=0)  # the anterior wall's midpoint (left)
    rr, cc = polygon([y - 16, y + 16, y], [x - 1, x - 1, x + 36], mask.shape)
    mask[rr, cc] = False
    df = measure_mask(mask)
    assert df["genant_type"].iloc[3] == "ungradable"
    assert "irregular outline" in df["qa"].iloc[3]
    assert (df["genant_type"].drop(index=3) == "normal").all()


def test_a_large_mask_with_its_probability_is_measured_reduced_in_original_pixels():
    import re

    import cv2

    from morpho.measure import WORK_SIDE

    big = [(160.0, 160.0, 160.0)] * 7 + [(100.0, 160.0, 160.0)]  # the last a wedge
    mask, bodies = render_spine(big, shape=(2 * WORK_SIDE + 200, 1200), depth=200.0, gap=48.0,
                                bulge=40.0)
    mask[60:72, 100:112] = True  # a speck, far from the spine
    prob = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 3)
    exact = measure_mask(mask)
    fast = measure_mask(mask, probability=prob)  # labelled and measured at half size
    truth, grades = truth_table(bodies)
    assert len(fast) == len(exact) == 8
    assert mape(fast, truth) < 0.5
    assert list(fast["genant_grade"]) == grades == list(exact["genant_grade"])
    assert np.abs(fast[["cx", "cy"]].to_numpy() - exact[["cx", "cy"]].to_numpy()).max() < 1.0
    assert np.abs(fast["area_px"] / exact["area_px"] - 1).max() < 0.02
    (note,) = fast.attrs["dropped"]
    x, y = map(int, re.search(r"at \((\d+),(\d+)\)", note).groups())
    assert abs(x - 105.5) <= 1 and abs(y - 65.5) <= 1  # in the original pixels


def test_a_small_mask_with_its_probability_is_measured_enlarged_in_original_pixels(
    monkeypatch,
):
    import cv2

    import morpho.measure as measure

    # a 320-px export of a spine: bodies ~16 px tall, one a wedge
    heights = [(48.0, 48.0, 48.0)] * 7 + [(30.0, 48.0, 48.0)]
    mask, bodies = render_spine(heights, shape=(960, 600), depth=60.0, gap=15.0, bulge=20.0)
    small = cv2.resize(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 2), (200, 320),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    truth, grades = truth_table(bodies)
    enlarged = measure_mask(small >= 0.5, probability=small)  # measured x3 (1024 / 320)
    monkeypatch.setattr(measure, "SMALL_SIDE", 0)
    as_is = measure_mask(small >= 0.5, probability=small)
    assert len(enlarged) == len(as_is) == 8
    assert mape(enlarged, truth / 3) < 1.5
    assert list(enlarged["genant_grade"]) == grades
    shift = enlarged[["cx", "cy"]].to_numpy() - as_is[["cx", "cy"]].to_numpy()
    assert np.abs(shift).max() < 1.0  # in the small film's pixels
    assert np.abs(enlarged["area_px"] / as_is["area_px"] - 1).max() < 0.1


def test_a_probability_of_another_size_than_the_mask_is_refused():
    mask, _ = render_spine([NORMAL] * 5, shape=(3300, 400))
    with pytest.raises(ValueError, match="differ"):
        measure_mask(mask, probability=np.zeros((1650, 200), np.float32))


def test_two_touching_bodies_below_crushed_ones_are_cut_in_two_not_three():
    # the crushed neighbours' heights alone would expect ~29 px bodies in the 80 px pair
    crushed = (18.0, 18.0, 18.0)
    heights = [NORMAL] * 5 + [crushed] * 2 + [NORMAL] * 2 + [NORMAL] * 3
    gaps = [12.0] * 7 + [0.0] + [12.0] * 3  # bodies 8 and 9 touch without a disc
    mask, bodies = render_spine(heights, gap=gaps, shape=(900, 400))
    df = measure_mask(mask, first_level="T3")
    assert len(df) == 12
    assert df["qa"].str.contains("by expected size").sum() == 2
    assert (df["genant_type"].iloc[5:7] == "crush").all()  # against their neighbours' Hp


def test_plausibility_of_normal_bodies_and_of_a_merged_pair():
    from morpho.measure import plausibility, plausibility_summary

    mask, _ = render_spine([NORMAL] * 8)
    df = measure_mask(mask, image="x")
    assert df["plausible"].all()
    assert np.allclose(df["aspect"], 40 / 50, atol=0.03)  # Hp over the full depth
    assert np.allclose(df["neighbour_ratio"], 1, atol=0.02)
    summary = plausibility_summary(df)
    assert summary[["bodies", "plausible", "share_plausible"]].iloc[0].tolist() == [8, 8, 1.0]
    # a merged pair: twice as tall as its neighbours, as tall as deep
    got = plausibility(np.array([40.0, 40, 40, 92, 40, 40, 40]), np.full(7, 50.0))
    assert got["plausible"].tolist() == [True, True, True, False, True, True, True]
    assert got["neighbour_ratio"][3] == pytest.approx(2.3)
    assert plausibility(np.array([70.0]), np.array([50.0]))["plausible"].tolist() == [False]


def test_a_normally_wedged_thoracic_body_is_grade_0_and_a_fracture_among_them_is_not():
    wedged = (32.8, 37.0, 40.0)  # Ha/Hp 0.82: a normal mid-thoracic shape
    heights = [wedged] * 3 + [(31.2, 37.0, 40.0)] + [wedged] * 2 + [(24.0, 37.0, 40.0)] + [
        wedged] * 3
    mask, _ = render_spine(heights, bulge=15)
    df = measure_mask(mask)
    assert df["genant_grade"].iloc[3] == 0  # Ha/Hp 0.78: Genant's raw rule says grade 1
    assert df["expected_wedge"].iloc[3] == pytest.approx(0.85, abs=0.02)  # at the 8% inset
    assert (df["genant_grade"].iloc[6], df["genant_type"].iloc[6]) == (2, "wedge")
    assert df["wedge_z"].iloc[6] < -3 < df["wedge_z"].iloc[3]
    assert df["genant_grade"].drop(index=6).eq(0).all()


def test_a_scattered_film_excuses_a_mild_wedge_but_not_a_moderate_one():
    from morpho.measure import film_grades

    wedge = np.array([0.80, 0.97, 0.82, 0.70, 0.97, 0.80, 0.96, 0.78, 0.95])  # SD ~0.1
    n = wedge.size
    col = {"hp_px": np.full(n, 40.0), "wedge_ratio": wedge, "aspect": np.full(n, 0.8),
           "biconcave_ratio": np.full(n, 0.92), "neighbour_ratio": np.ones(n)}
    out = film_grades(col, np.ones(n, bool))
    assert min(out["wedge_z"][3], out["wedge_z"][7]) > -2  # both within the scatter
    assert out["height_loss"][3] == pytest.approx(0.30)  # Ha/Hp 0.70: a grade 2 wedge
    assert out["height_loss"][7] == pytest.approx(0.08)  # 0.78: excused, only Hm/Hp left


def test_an_implausibly_tall_outline_is_not_graded_and_says_why():
    heights = [NORMAL] * 3 + [(56.0, 56.0, 56.0)] + [NORMAL] * 3  # 1.4x as tall as deep
    mask, _ = render_spine(heights, depth=40.0)
    df = measure_mask(mask)
    assert len(df) == 7
    assert pd.isna(df["genant_grade"].iloc[3]) and not df["plausible"].iloc[3]
    assert "implausible outline" in df["qa"].iloc[3]
    assert df["genant_grade"].drop(index=3).eq(0).all()


def test_a_body_the_model_is_unsure_of_is_not_graded():
    heights = [NORMAL] * 3 + [(20.0, 20.0, 20.0)] + [NORMAL] * 3  # looks crushed
    mask, bodies = render_spine(heights)
    prob = np.where(mask, 0.98, 0.02).astype(np.float32)
    unsure = np.zeros_like(mask)
    x0, y0 = bodies[3].outline.min(axis=0).astype(int)
    x1, y1 = bodies[3].outline.max(axis=0).astype(int) + 1
    unsure[y0:y1, x0:x1] = True
    prob[unsure & mask] = 0.6
    df = measure_mask(mask, probability=prob)
    assert df["confidence"].iloc[3] == pytest.approx(0.6, abs=0.01)
    assert pd.isna(df["genant_grade"].iloc[3]) and "low model confidence" in df["qa"].iloc[3]
    assert measure_mask(mask)["genant_grade"].iloc[3] == 3  # the mask alone: a crush


def test_film_level_calls_name_the_worst_body():
    from morpho.grade import subject_calls

    mask, _ = render_spine(SPINE, bulge=15, shape=(800, 800))
    df = measure_mask(mask, first_level="T3", image="a")
    calls = subject_calls(pd.concat([df, df.assign(image="b", genant_grade=0)]))
    a, b = calls.set_index("image").loc["a"], calls.set_index("image").loc["b"]
    assert (a["worst_grade"], a["any_grade2"], a["sdi"], a["gradable"]) == (3, True, 7, 12)
    assert (a["driver"], a["driver_type"]) == ("T12", "crush")
    assert (b["worst_grade"], b["any_grade2"], b["sdi"]) == (0, False, 0)


def test_a_biconcave_loss_inside_the_silhouette_is_measured_from_the_film():
    from measure_shapes import render_film

    mask, bodies = render_spine([(50.0, 50.0, 50.0)] * 7, depth=60.0)  # rectangles
    film = render_film(mask, bodies, {3: 9.0, 5: 2.0})  # body 3: Hm 32 of 50 (grade 2)
    silhouette = measure_mask(mask)
    assert silhouette["genant_grade"].eq(0).all()  # the mask alone cannot see it
    df = measure_mask(mask, pixels=film)
    assert (df["points_source"] == "image").all()
    assert df["hm_px"].iloc[3] == pytest.approx(32.0, abs=1.5)
    assert df["hm_px"].iloc[5] == pytest.approx(46.0, abs=1.5)
    assert (df["genant_grade"].iloc[3], df["genant_type"].iloc[3]) == (2, "biconcave")
    assert df["genant_grade"].drop(index=3).eq(0).all()
    assert np.allclose(df[["ha_px", "hp_px"]], silhouette[["ha_px", "hp_px"]])


def test_an_implausibly_flat_predicted_outline_is_not_graded_an_exact_one_is():
    heights = [NORMAL] * 3 + [(12.0, 12.0, 12.0)] + [NORMAL] * 3  # 0.3x its neighbours
    mask, _ = render_spine(heights)
    prob = np.where(mask, 0.98, 0.02).astype(np.float32)
    predicted = measure_mask(mask, probability=prob)
    assert not predicted["plausible"].iloc[3] and pd.isna(predicted["genant_grade"].iloc[3])
    assert "implausible outline (predicted)" in predicted["qa"].iloc[3]
    exact = measure_mask(mask)
    assert (exact["genant_grade"].iloc[3], exact["genant_type"].iloc[3]) == (3, "crush")


def test_a_short_whole_predicted_outline_is_graded_a_crush():
    heights = [NORMAL] * 3 + [(18.0, 18.0, 18.0)] + [NORMAL] * 3  # 0.45x: a grade 3 crush
    mask, _ = render_spine(heights)
    prob = np.where(mask, 0.98, 0.02).astype(np.float32)
    predicted = measure_mask(mask, probability=prob)
    assert not predicted["plausible"].iloc[3]  # still reported as outside the normal shape
    assert (predicted["genant_grade"].iloc[3], predicted["genant_type"].iloc[3]) == (3, "crush")


def test_a_short_outline_at_the_end_of_the_column_is_not_graded():
    heights = [NORMAL] * 6 + [(18.0, 18.0, 18.0)]  # the last body: maybe cut by a field edge
    mask, _ = render_spine(heights)
    prob = np.where(mask, 0.98, 0.02).astype(np.float32)
    predicted = measure_mask(mask, probability=prob)
    assert pd.isna(predicted["genant_grade"].iloc[-1])
    assert "implausible outline (predicted)" in predicted["qa"].iloc[-1]
