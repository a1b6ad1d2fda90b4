import numpy as np

from morpho.synth.cohort import LEVELS, CohortModel, simulate_cohort

PUBLIC = ["image", "index", "level", "ha_px", "hm_px", "hp_px", "ha_mm", "hm_mm", "hp_mm",
          "spacing_source", "area_px", "wedge_ratio", "biconcave_ratio", "crush_ratio",
          "genant_grade", "genant_type", "facing", "qa"]  # fmt: skip


def test_contract_and_determinism():
    demo, meas = simulate_cohort(200, seed=3)
    assert list(demo.columns) == ["subject_id", "age", "sex", "height_cm", "weight_kg"]
    assert set(PUBLIC) <= set(meas.columns) and {"true_grade", "true_type"} <= set(meas.columns)
    assert len(meas) == 200 * len(LEVELS)
    assert set(meas["image"]) == set(demo["subject_id"])
    _, again = simulate_cohort(200, seed=3)
    assert meas.equals(again)
    _, other = simulate_cohort(200, seed=4)
    assert not meas["ha_mm"].equals(other["ha_mm"])


def test_heights_realistic_and_ratios_consistent():
    _, meas = simulate_cohort(2000, seed=0, model=CohortModel(fracture_rate=1e-9))
    hp = meas.groupby("level")["hp_mm"].median()
    assert 15 < hp["T4"] < 20 and 26 < hp["L4"] < 32
    assert np.allclose(meas["wedge_ratio"], meas["ha_mm"] / meas["hp_mm"])
    assert (meas["true_grade"] == 0).all()


def test_fractures_planted_at_the_asked_rate_and_grade_mix():
    model = CohortModel(fracture_rate=0.05, fracture_or_per_decade=1.0, fracture_or_male=1.0)
    _, meas = simulate_cohort(3000, seed=1, model=model)
    fractured = meas["true_grade"] > 0
    expected = 0.05 * np.mean([1.0])  # level weights average about 1
    assert 0.5 * expected < fractured.mean() < 1.5 * expected
    mix = meas.loc[fractured, "true_grade"].value_counts(normalize=True).sort_index()
    assert np.allclose(mix.to_numpy(), model.grade_mix, atol=0.05)
    wedge = meas["true_type"] == "wedge"
    assert meas.loc[wedge, "wedge_ratio"].mean() < meas.loc[~fractured, "wedge_ratio"].mean() - 0.15


def test_uncalibrated_cohort_has_no_mm():
    _, meas = simulate_cohort(20, seed=0, calibrated=False)
    assert meas[["ha_mm", "hm_mm", "hp_mm"]].isna().all().all()
    assert meas["ha_px"].notna().all()
