"""The streamed (row-batch) `stats` path gives what the whole table loaded at once gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from morpho.stats.inputs import load_cohort
from morpho.stats.reference import Reference, fit_reference
from morpho.stats.score import GEOMETRY, combine_subjects, score, subject_summary
from morpho.stats.stream import CohortStream, whole_groups
from morpho.stats.summary import write_summary
from morpho.stats.workflow import fit_file, score_files, summarise_file, write_table
from morpho.synth.cohort import simulate_cohort

BATCH = 37  # rows per batch: images (4 rows each) split across batches


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A batch-style measurements.parquet (file first, covariates last) with rows to exclude,
    two films per subject, and a demographics table."""
    folder = tmp_path_factory.mktemp("run")
    demo, meas = simulate_cohort(400, seed=4, levels=("T8", "T9", "T10", "T11"))
    demo.loc[3, "sex"] = "X"
    demo.loc[5, "age"] = np.nan
    demo.loc[7, "height_cm"] = 20.0
    meas.loc[10:13, "genant_grade"] = pd.NA  # ungradable bodies
    meas.loc[21, "level"] = None  # an unnamed body
    meas.loc[meas.index % 3 == 0, ["ha_mm", "hm_mm", "hp_mm"]] = np.nan
    meas = meas.drop(columns=["true_grade", "true_type"])
    table = meas.merge(demo, left_on="image", right_on="subject_id").drop(columns="subject_id")
    table.insert(0, "file", "films/" + table["image"] + ".dcm")
    table["subject"] = "s" + (table["image"].str[3:].astype(int) // 2).astype(str)
    table.to_parquet(folder / "measurements.parquet", index=False)
    demo.rename(columns={"subject_id": "image"}).iloc[:-3].to_parquet(
        folder / "demographics.parquet", index=False
    )
    return folder


def test_whole_groups_never_split_a_run():
    frames = [pd.DataFrame({"k": list(k)}) for k in ("aab", "bbb", "bc", "d", "dde")]
    cut = [frame["k"].tolist() for frame in whole_groups(frames, "k")]
    assert cut == [["a", "a"], ["b"] * 5, ["c"], ["d", "d", "d"], ["e"]]


@pytest.mark.parametrize("demographics", [None, "demographics.parquet"])
def test_streamed_cohort_equals_loaded_cohort(run, demographics):
    demo = run / demographics if demographics else None
    want, want_excluded = load_cohort(run / "measurements.parquet", demo, "file" if
                                      demo is None else "image")  # fmt: skip
    stream = CohortStream(run / "measurements.parquet", demo, "file" if demo is None else "image",
                          batch_rows=BATCH)  # fmt: skip
    got = pd.concat(list(stream), ignore_index=True)
    assert stream.contiguous and len(stream.parts) > 40
    assert_frame_equal(got, want)
    assert stream.exclusions.counts == want_excluded.counts and want_excluded.counts


def test_streamed_fit_equals_in_memory_fit(run, tmp_path):
    table = run / "measurements.parquet"
    fit_file(table, tmp_path / "ref.json", key="file", batch_rows=BATCH)
    got = Reference.load(tmp_path / "ref.json")
    cohort, excluded = load_cohort(pd.read_parquet(table), key="file")
    want = fit_reference(cohort, exclusions=excluded)
    assert [f.__dict__ for f in got.fits] == [f.__dict__ for f in want.fits]
    assert_frame_equal(got.cells, want.cells, check_dtype=False)
    assert got.exclusions == want.exclusions
    assert "ungradable vertebrae (not used in the fit)" in got.exclusions


@pytest.mark.parametrize("key", ["file", "subject"])
def test_streamed_scores_equal_in_memory_scores(run, tmp_path, key):
    table = run / "measurements.parquet"
    fit_file(table, tmp_path / "ref.json", key="file")
    reference = Reference.load(tmp_path / "ref.json")
    for parquet in (True, False):
        out = tmp_path / f"out-{parquet}"
        result = score_files(table, out, tmp_path / "ref.json", key=key, parquet=parquet,
                             batch_rows=BATCH)  # fmt: skip
        assert result.scores is None  # streamed
        cohort, excluded = load_cohort(pd.read_parquet(table), key=key)
        scores, not_scored = score(cohort, reference)
        scores["reference"] = "fitted"
        subjects = subject_summary(scores, key)
        assert result.excluded.counts == excluded.counts
        assert result.not_scored.counts == not_scored.counts
        assert result.counts["vertebrae"] == len(scores) and len(result.subjects) == len(subjects)
        suffix = ".parquet" if parquet else ".csv"
        for name, frame in (("scores", scores), ("subjects", subjects)):
            want = write_table(frame, tmp_path / f"want-{name}{suffix}")  # the in-memory path
            read = pd.read_parquet if parquet else pd.read_csv
            got, want = read(out / f"{name}{suffix}"), read(want)
            # the same numbers up to the last bits of a matrix product (BLAS blocking)
            assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)
    assert not set(GEOMETRY) & set(scores.columns)


def test_subjects_split_across_batches_are_merged(run):
    cohort, _ = load_cohort(pd.read_parquet(run / "measurements.parquet"), key="file")
    scores, _ = score(cohort, None)
    parts = [subject_summary(scores.iloc[i : i + 9], "subject") for i in range(0, len(scores), 9)]
    assert_frame_equal(combine_subjects(parts, "subject"), subject_summary(scores, "subject"))


def test_streamed_summary_equals_in_memory_summary(run, tmp_path):
    table = run / "measurements.parquet"
    fit_file(table, tmp_path / "ref.json", key="file")
    score_files(table, tmp_path / "s", tmp_path / "ref.json", key="file", parquet=True,
                batch_rows=BATCH)  # fmt: skip
    written = summarise_file(tmp_path / "s" / "scores.parquet", tmp_path / "got", key="file")
    scores = pd.read_parquet(tmp_path / "s" / "scores.parquet")
    write_summary(scores, tmp_path / "want", "file")
    for path in written:
        if path.suffix in (".csv", ".md"):
            assert path.read_text() == (tmp_path / "want" / path.name).read_text(), path.name


def test_unsorted_images_are_loaded_whole(run, tmp_path):
    shuffled = pd.read_parquet(run / "measurements.parquet").sample(frac=1, random_state=0)
    shuffled.to_parquet(tmp_path / "m.parquet", index=False)
    assert not CohortStream(tmp_path / "m.parquet", key="file", batch_rows=BATCH).contiguous
    result = score_files(tmp_path / "m.parquet", tmp_path / "s", key="file", batch_rows=BATCH)
    cohort, _ = load_cohort(shuffled, key="file", covariates=("age", "sex"))
    assert_frame_equal(result.scores, score(cohort, None)[0].assign(reference="none"))


def test_subsample_fit_is_close_and_repeatable(cohort):
    full = fit_reference(cohort, sample=None)
    assert [f.params for f in fit_reference(cohort, sample=10**6).fits] == [
        f.params for f in full.fits
    ]
    half = fit_reference(cohort, sample=800)
    again = fit_reference(cohort, sample=800)
    assert [f.params for f in half.fits] == [f.params for f in again.fits]
    for a, b in zip(half.fits, full.fits, strict=True):
        assert a.n == b.n and abs(a.n_used - b.n_used) <= 0.02 * b.n
        assert abs(a.resid_sd / b.resid_sd - 1) < 0.15
    assert abs(half.cells["n"].sum() / full.cells["n"].sum() - 1) < 0.01  # all bodies trimmed


def test_named_only_scores_what_batch_scores(run, tmp_path):
    """`morpho batch --reference` scores the named vertebrae only: the streamed option reads
    the run's table as it is and gives the scores of that subset."""
    table = run / "measurements.parquet"
    fit_file(table, tmp_path / "ref.json", key="file")
    result = score_files(table, tmp_path / "s", tmp_path / "ref.json", key="file",
                         parquet=True, batch_rows=BATCH, named_only=True)  # fmt: skip
    whole = pd.read_parquet(table)
    named = whole[whole["level"].fillna("").astype(str) != ""]
    assert len(named) == len(whole) - 1
    cohort, excluded = load_cohort(named, key="file")
    scores, _ = score(cohort, Reference.load(tmp_path / "ref.json"))
    want = write_table(scores.assign(reference="fitted"), tmp_path / "want.parquet")
    assert_frame_equal(pd.read_parquet(tmp_path / "s" / "scores.parquet"), pd.read_parquet(want))
    assert result.excluded.counts == excluded.counts
