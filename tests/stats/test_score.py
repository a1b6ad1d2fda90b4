import numpy as np
import pandas as pd

from morpho.stats.inputs import load_cohort
from morpho.stats.score import score, subject_summary
from morpho.synth.cohort import simulate_cohort


def test_flags_find_planted_fractures(reference):
    demo, meas = simulate_cohort(1500, seed=12)
    cohort, _ = load_cohort(meas, demo, "image=subject_id")
    scores, _ = score(cohort, reference)
    scored = scores.loc[scores["ratio_flag"].notna()]
    flagged = scored["ratio_flag"].astype(bool)
    specificity = (~flagged[scored["true_grade"] == 0]).mean()
    sensitivity = flagged[scored["true_grade"] >= 2].mean()
    assert specificity > 0.95 and sensitivity > 0.9
    rules = scored.loc[flagged & (scored["true_type"] == "wedge"), "ratio_rules"]
    assert rules.str.contains("wedge_ratio").mean() > 0.9
    assert set(scores.loc[scores["flagged"], "flag_source"]) <= {"ratio", "genant", "ratio+genant"}


def test_z_scores_and_percentiles_of_normal_bodies(reference, cohort):
    scores, notes = score(cohort, reference)
    normal = scores.loc[scores["true_grade"] == 0, "ha_mm_z"].dropna()
    assert abs(normal.mean()) < 0.05 and 0.9 < normal.std() < 1.1
    pct = scores["ha_mm_pct"].dropna()
    assert pct.between(0, 100).all() and 45 < pct.median() < 55


def test_without_reference_only_genant_flags(cohort):
    scores, _ = score(cohort, None)
    assert scores["ratio_flag"].isna().all()
    assert not any(c.endswith("_z") for c in scores.columns)
    assert (scores["flagged"] == (scores["genant_grade"] >= 1).fillna(False)).all()


def test_rows_outside_the_reference_are_counted_not_scored(reference, cohort):
    rows = cohort.iloc[:26].copy()
    rows.loc[rows.index[:13], "age"] = 110.0  # beyond the fitted age range
    rows.loc[rows.index[13:], "sex"] = "O"  # a sex code the reference never saw
    scores, notes = score(rows, reference)
    assert scores["wedge_ratio_z"].isna().all()
    assert sum(notes.counts.values()) == 26


def test_subject_summary_counts_grades_and_ungradable_levels():
    scores = pd.DataFrame({
        "image": ["a"] * 4 + ["b"] * 2,
        "level": ["T7", "T8", "T9", "T10", "T7", "T8"],
        "age": 70.0, "sex": "F",
        "genant_grade": [0, 2, np.nan, 3, 0, np.nan],
        "ratio_flag": pd.array([False, True, False, True, pd.NA, False], dtype="boolean"),
        "genant_flag": pd.array([False, True, pd.NA, True, False, pd.NA], dtype="boolean"),
        "flagged": [False, True, False, True, False, False],
    })  # fmt: skip
    subjects = subject_summary(scores).set_index("image")
    assert subjects.loc["a", "n_deformities"] == 2 and subjects.loc["a", "worst_grade"] == 3
    assert subjects.loc["a", "sdi"] == 5 and subjects.loc["a", "ungradable_levels"] == "T9"
    assert subjects.loc["b", "sdi"] == 0 and subjects.loc["b", "ungradable_levels"] == "T8"
    assert subjects.loc["b", "n_graded"] == 1


def test_batch_tables_scored_by_file(tmp_path):
    from morpho.stats.workflow import fit_file, score_files

    demo, meas = simulate_cohort(300, seed=3, levels=("T8", "T9", "T10"))
    table = meas.merge(demo, left_on="image", right_on="subject_id")
    table["file"] = "scans/" + table["image"] + ".dcm"
    table.to_parquet(tmp_path / "measurements.parquet")
    fit_file(tmp_path / "measurements.parquet", tmp_path / "ref.json", key="file")
    result = score_files(tmp_path / "measurements.parquet", tmp_path, tmp_path / "ref.json",
                         key="file", parquet=True)  # fmt: skip
    assert result.counts["vertebrae"] == 900 and len(result.subjects) == 300
    assert (tmp_path / "scores.parquet").exists() and (tmp_path / "subjects.parquet").exists()
