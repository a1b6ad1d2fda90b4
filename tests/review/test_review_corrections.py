"""Corrections applied to a run's measurements: points, levels, facing, reader marks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from morpho.review import Correction, apply_corrections, load_corrections
from morpho.review.corrections import CORRECTIONS, append_correction, renamed
from morpho.review.remeasure import film_spacing

SAMPLE = "sample_lateral.dcm"


def _log(run, *corrections: Correction) -> pd.DataFrame:
    """Record the corrections (checked against the run's rows) as the review page does."""
    table = pd.read_parquet(run / "measurements.parquet")
    log = load_corrections(run)
    for c in corrections:
        log = append_correction(run, log, c.checked(table[table["file"] == c.file]))
    return log


def _wedge(table: pd.DataFrame) -> pd.Series:
    """The sample's graded wedge (grade 2 as measured)."""
    film = table[table["file"] == SAMPLE]
    return film[film["genant_grade"] >= 2].iloc[0]


def test_without_corrections_nothing_changes(run):
    table = pd.read_parquet(run / "measurements.parquet")
    out = apply_corrections(table, load_corrections(run))
    pd.testing.assert_frame_equal(out.drop(columns=["corrected", "review"]), table)
    assert not out["corrected"].any() and (out["review"] == "").all()


def test_moving_a_point_remeasures_and_regrades_the_film(run):
    table = pd.read_parquet(run / "measurements.parquet")
    body = _wedge(table)
    # lift the anterior superior point until Ha equals Hp: no wedge left
    scale = body["hp_px"] / body["ha_px"]
    x = body["ant_inf_x"] + (body["ant_sup_x"] - body["ant_inf_x"]) * scale
    y = body["ant_inf_y"] + (body["ant_sup_y"] - body["ant_inf_y"]) * scale
    log = _log(run, Correction(SAMPLE, "point", int(body["index"]), "ant_sup", x, y,
                               reader="Dr Test"))  # fmt: skip
    out = apply_corrections(table, log)
    row = out[(out["file"] == SAMPLE) & (out["index"] == body["index"])].iloc[0]
    assert row["ha_px"] == pytest.approx(body["hp_px"], abs=0.02)
    assert row["wedge_ratio"] == pytest.approx(1.0, abs=0.002)
    # no wedge left: the middle height, not moved, sets the loss now (the built wedge's
    # middle column lost half as much, on top of its normal concavity)
    assert body["genant_type"] == "wedge" and row["genant_type"] != "wedge"
    assert row["height_loss"] == pytest.approx(1 - row["biconcave_ratio"], abs=1e-3)
    assert row["height_loss"] < body["height_loss"]  # the extras follow (film-level call)
    assert row["wedge_z"] > body["wedge_z"] and row["depth_px"] == body["depth_px"]
    assert row["corrected"] and row["qa"].startswith("corrected by reader")
    mm_per_px = body["hp_mm"] / body["hp_px"]
    assert row["ha_mm"] == pytest.approx(row["ha_px"] * mm_per_px, rel=0.002)
    others = out[out["index"] != body["index"]]
    assert not others["corrected"].any()
    same = ["ha_px", "hp_mm", "wedge_ratio"]
    expected = table[table["index"] != body["index"]][same]
    assert np.allclose(others[same], expected, atol=0.011, equal_nan=True)  # rounded points
    film = out[out["file"] != SAMPLE]  # the other film is untouched
    pd.testing.assert_frame_equal(film.drop(columns=["corrected", "review"]),
                                  table[table["file"] != SAMPLE])  # fmt: skip


def test_marks_levels_and_facing(run):
    table = pd.read_parquet(run / "measurements.parquet")
    film = table[table["file"] == SAMPLE]
    wedge = int(_wedge(table)["index"])
    ungraded = int(film[film["genant_grade"].isna()]["index"].iloc[-1])
    log = _log(run, Correction(SAMPLE, "not_gradable", wedge),
               Correction(SAMPLE, "accept", ungraded),
               Correction(SAMPLE, "level", 2, value="T3"))  # fmt: skip
    out = apply_corrections(table, log).set_index(["file", "index"]).loc[SAMPLE]
    assert pd.isna(out.loc[wedge, "genant_grade"]) and out.loc[wedge, "review"] == "not gradable"
    assert "not gradable (reader)" in out.loc[wedge, "qa"]
    assert out.loc[ungraded, "review"] == "accepted" and out.loc[ungraded, "genant_grade"] >= 0
    assert out.loc[1, "level"] == "" and list(out["level"].iloc[1:4]) == ["T3", "T4", "T5"]
    assert out.loc[2:, "corrected"].all() and not out.loc[1, "corrected"]
    # renamed but not vouched for: as ungradable as measured
    untrusted = [i for i in film[film["genant_grade"].isna()]["index"] if i != ungraded]
    assert untrusted and out.loc[untrusted, "genant_grade"].isna().all()
    flipped = apply_corrections(table, _log(run, Correction(SAMPLE, "facing", value="right")))
    flipped = flipped[flipped["file"] == SAMPLE]
    assert (flipped["facing"] == "right").all() and flipped["corrected"].all()
    assert np.allclose(flipped["ant_sup_x"], film["post_sup_x"])
    assert np.allclose(flipped["wedge_ratio"], film["hp_px"] / film["ha_px"], atol=0.002)


def test_the_log_is_plain_and_complete(run):
    _log(run, Correction(SAMPLE, "accept", 3, reader="  Dr\nTest  "))
    text = (run / CORRECTIONS).read_text()
    assert text.splitlines()[0] == "time,reader,file,index,action,point,x,y,value"
    log = load_corrections(run)
    assert log.loc[0, "reader"] == "Dr Test" and log.loc[0, "time"].endswith("+00:00")
    assert log.loc[0, "action"] == "accept" and log.loc[0, "index"] == 3
    assert not any(p.name.endswith(".tmp") for p in run.iterdir())


@pytest.mark.parametrize(("change", "cause"), [
    (Correction(SAMPLE, "point", 3, "ant_sup", math.nan, 4.0), "finite x, y"),
    (Correction(SAMPLE, "point", 3, "corner", 1.0, 4.0), "one of ant_sup"),
    (Correction(SAMPLE, "level", 3, value="T13"), "unknown level"),
    (Correction(SAMPLE, "facing", value="up"), "left or right"),
    (Correction(SAMPLE, "accept", 99), "no body 99"),
    (Correction(SAMPLE, "delete", 3), "unknown action"),
])  # fmt: skip
def test_bad_corrections_are_refused(run, change, cause):
    with pytest.raises(ValueError, match=cause):
        _log(run, change)
    assert not (run / CORRECTIONS).exists()


def test_renaming_keeps_a_skipped_level():
    assert renamed(["T4", "T5", "T7", "T8"], 1, "T6") == ["T4", "T6", "T8", "T9"]
    assert renamed(["", "", ""], 0, "L4") == ["L4", "L5", "S1"]
    assert renamed(["L5", "S1"], 0, "S1") == ["S1", ""]


def test_spacing_is_recovered_from_the_heights():
    rng = np.random.default_rng(0)
    rows = {}
    for key, name in (("ha", "ant"), ("hm", "mid"), ("hp", "post")):
        sup = rng.uniform(0, 100, (2, 6))
        inf = sup + np.array([rng.uniform(-8, 8, 6), rng.uniform(20, 30, 6)])
        rows |= {f"{name}_sup_x": sup[0], f"{name}_sup_y": sup[1],
                 f"{name}_inf_x": inf[0], f"{name}_inf_y": inf[1]}
        rows[f"{key}_mm"] = np.hypot((sup[0] - inf[0]) * 0.2, (sup[1] - inf[1]) * 0.15)
    assert film_spacing(pd.DataFrame(rows)) == pytest.approx((0.15, 0.2), rel=1e-6)
    rows = {k: v for k, v in rows.items()} | {f"{k}_mm": np.nan for k in ("ha", "hm", "hp")}
    assert film_spacing(pd.DataFrame(rows)) is None


def test_not_gradable_in_a_table_where_every_body_had_a_grade(run):
    """A table read back with integer grades (no body ungraded) takes the reader's 'not
    gradable' as a missing grade instead of failing on the integer type."""
    table = pd.read_parquet(run / "measurements.parquet")
    graded = table[table["genant_grade"].notna()].reset_index(drop=True)
    as_int = graded.astype({"genant_grade": "int64"})
    body = _wedge(graded)
    log = _log(run, Correction(SAMPLE, "not_gradable", int(body["index"]), reader="Dr Test"))
    out = apply_corrections(as_int, log)
    row = out[(out["file"] == SAMPLE) & (out["index"] == body["index"])].iloc[0]
    assert pd.isna(row["genant_grade"]) and row["review"] == "not gradable"
    expected = apply_corrections(graded, log)["genant_grade"]  # the same table, float grades
    assert out["genant_grade"].astype("Float64").equals(expected.astype("Float64"))
