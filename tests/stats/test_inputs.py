import pandas as pd
import pytest

from morpho.errors import MorphoError
from morpho.stats.inputs import load_cohort
from morpho.synth.cohort import simulate_cohort


@pytest.fixture
def tables():
    return simulate_cohort(30, seed=5, levels=("T8", "T9"))


def test_join_on_named_key(tables):
    demo, meas = tables
    cohort, excluded = load_cohort(meas, demo, "image=subject_id")
    assert len(cohort) == 60 and not excluded.counts
    assert {"age", "sex", "height_cm", "ha_rel", "hp_rel"} <= set(cohort.columns)


def test_missing_column_is_an_error(tables):
    demo, meas = tables
    with pytest.raises(MorphoError, match="missing column.*height_cm"):
        load_cohort(meas, demo.drop(columns="height_cm"), "image=subject_id")
    with pytest.raises(MorphoError, match="missing column.*wedge_ratio"):
        load_cohort(meas.drop(columns="wedge_ratio"), demo, "image=subject_id")


def test_text_in_numeric_column_is_an_error(tables):
    demo, meas = tables
    demo = demo.astype({"age": object})
    demo.loc[3, "age"] = "forty"
    with pytest.raises(MorphoError, match="text in numeric column 'age'.*row 4: 'forty'"):
        load_cohort(meas, demo, "image=subject_id")


def test_duplicate_ids_are_an_error(tables):
    demo, meas = tables
    demo = pd.concat([demo, demo.iloc[:2]])
    with pytest.raises(MorphoError, match="duplicate 'subject_id': 4 rows share 2 ids"):
        load_cohort(meas, demo, "image=subject_id")


def test_bad_rows_are_excluded_and_counted(tables):
    demo, meas = tables
    demo = demo.copy()
    demo.loc[0, "age"] = -3
    demo.loc[1, "age"] = 140
    demo.loc[2, "sex"] = "X"
    demo.loc[3, "sex"] = "female"
    demo.loc[4, "height_cm"] = 20
    demo.loc[5, "height_cm"] = None
    cohort, excluded = load_cohort(meas, demo.iloc[:-1], "image=subject_id")
    assert excluded.counts == {
        "unknown sex code (X)": 1,
        "missing height_cm": 1,
        "negative age": 1,
        "impossible age (outside 0-120)": 1,
        "impossible height_cm (outside 50-250)": 1,
        "vertebrae without a valid demographics row": 2 * 6,
    }
    assert len(cohort) == 2 * (30 - 6)
    assert (cohort.loc[cohort["image"] == demo.loc[3, "subject_id"], "sex"] == "F").all()


def test_covariates_from_the_measurements_table(tables):
    demo, meas = tables
    merged = meas.merge(demo, left_on="image", right_on="subject_id")
    cohort, _ = load_cohort(merged)
    assert len(cohort) == 60
    with pytest.raises(MorphoError, match="no demographics given"):
        load_cohort(meas)


def test_files_round_trip(tables, tmp_path):
    demo, meas = tables
    meas.to_csv(tmp_path / "m.csv", index=False)
    demo.to_parquet(tmp_path / "d.parquet")
    cohort, _ = load_cohort(tmp_path / "m.csv", tmp_path / "d.parquet", "image=subject_id")
    assert len(cohort) == 60
    with pytest.raises(MorphoError, match="not a table"):
        load_cohort(tmp_path / "m.txtx", tmp_path / "d.parquet")


def test_ids_of_different_types_still_join(tables):
    demo, meas = tables
    numbered = {sid: i for i, sid in enumerate(demo["subject_id"])}
    meas = meas.assign(image=meas["image"].map(numbered))  # integers, as read from a CSV
    demo = demo.assign(subject_id=demo["subject_id"].map(numbered).astype(str))
    cohort, excluded = load_cohort(meas, demo, "image=subject_id")
    assert len(cohort) == 60 and not excluded.counts
