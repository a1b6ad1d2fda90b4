import json

import numpy as np
import pytest

from morpho.errors import MorphoError
from morpho.stats.inputs import load_cohort
from morpho.stats.reference import Reference, fit_reference
from morpho.synth.cohort import CohortModel, simulate_cohort


def test_planted_coefficients_inside_95_ci_at_about_the_nominal_rate():
    """40 cohorts of 2000 subjects: each planted effect inside its CI in >= 85 % of them."""
    model = CohortModel()
    hits = []
    for seed in range(40):
        demo, meas = simulate_cohort(2000, seed=seed, model=model, levels=("T8",))
        cohort, _ = load_cohort(meas, demo, "image=subject_id")
        (fit,) = fit_reference(cohort, measures=["ha_mm"]).fits
        se = np.sqrt(np.diag(fit.cov))
        truth = model.coefficients("T8", "ha")
        hits.append([abs(fit.params[fit.columns.index(k)] - v) <= 1.96 * se[fit.columns.index(k)]
                     for k, v in truth.items()])  # fmt: skip
    rate = np.mean(hits, axis=0)
    assert (rate >= 0.85).all(), dict(zip(truth, rate, strict=True))


def test_trimming_removes_fractures(cohort, reference):
    fit = next(f for f in reference.fits if f.level == "T12" and f.measure == "wedge_ratio")
    rows = cohort.loc[(cohort["level"] == "T12") & cohort["genant_grade"].notna()]
    assert fit.n == len(rows)
    assert fit.n - fit.n_used >= (rows["true_grade"] >= 2).sum()
    assert fit.n - fit.n_used < 0.05 * fit.n
    assert 0.035 < fit.resid_sd < 0.06  # ratio noise of the simulation (about 0.045)


def test_cells_mark_small_cells_and_pool_heights(reference):
    cells = reference.cells
    assert {"n", "mean", "sd", "p5", "p50", "p95", "status"} <= set(cells.columns)
    small = cells["n"] < 30
    assert small.any() and cells.loc[small, "mean"].isna().all()
    assert (cells.loc[small, "status"] == "insufficient (n<30)").all()
    assert (cells.loc[~small, "status"] == "ok").all() and cells.loc[~small, "mean"].notna().all()
    pooled = cells.loc[(cells["height_band"] == "all") & (cells["measure"] == "ha_mm")]
    fine = cells.loc[(cells["height_band"] != "all") & (cells["measure"] == "ha_mm")]
    assert pooled["n"].sum() == fine["n"].sum()


def test_save_and_load_round_trip(reference, cohort, tmp_path):
    path = tmp_path / "ref.json"
    reference.save(path)
    body = json.loads(path.read_text())
    assert body["format"] == "morpho-reference" and body["morpho_version"]
    assert body["formula"] == "age + C(sex) + height_cm"
    loaded = Reference.load(path)
    before, _ = reference.predict(cohort.iloc[:200])
    after, _ = loaded.predict(cohort.iloc[:200])
    for measure in reference.measures:
        assert np.allclose(before[measure], after[measure], equal_nan=True)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(MorphoError, match="not a morpho-reference"):
        Reference.load(tmp_path / "bad.json")


def test_spline_formula_and_robust_methods(cohort):
    small = cohort.loc[cohort["level"].isin(["T8", "L1"])]
    for method in ("ols", "rlm", "quantreg"):
        ref = fit_reference(small, "bs(age, df=4) + C(sex) + height_cm", method,
                            measures=["wedge_ratio"])  # fmt: skip
        assert len(ref.fits) == 2 and all(f.resid_sd > 0 for f in ref.fits)
        pred, notes = ref.predict(small)
        inside = pred["wedge_ratio"]["expected"].notna()
        assert inside.mean() > 0.99 and abs(pred["wedge_ratio"]["expected"].mean() - 0.9) < 0.05
    assert set(ref.fits[0].quantile_params) == {"0.05", "0.5", "0.95"}
    band = pred["wedge_ratio"].dropna()
    assert (band["p5"] < band["expected"]).all() and (band["expected"] < band["p95"]).all()


def test_scale_free_reference_for_uncalibrated_images():
    demo, meas = simulate_cohort(400, seed=2, calibrated=False, levels=("T7", "T8", "T9"))
    cohort, _ = load_cohort(meas, demo, "image=subject_id")
    ref = fit_reference(cohort)
    assert set(ref.measures) == {"wedge_ratio", "biconcave_ratio", "crush_ratio",
                                 "ha_rel", "hm_rel", "hp_rel"}  # fmt: skip


def test_bad_method_and_formula(cohort):
    with pytest.raises(MorphoError, match="unknown method"):
        fit_reference(cohort, method="lasso")
    with pytest.raises(MorphoError, match="no column 'bmi'"):
        fit_reference(cohort, "age + bmi")
