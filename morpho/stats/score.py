"""Score vertebrae against a reference: z-scores, percentiles, deformity flags, per subject.

Flags, each recording the rule that raised it:
- ``ratio``: a height ratio (wedge, biconcave, crush) more than ``threshold`` SD below the
  reference mean for the subject's covariates (McCloskey-Kanis / Eastell style);
- ``genant``: a Genant grade of 1 or more from ``morpho measure``.
Ungradable bodies (no Genant grade) get z-scores but no flags. Percentiles assume normal
residuals: ``100 * Phi(z)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from morpho.stats.inputs import Exclusions, level_order
from morpho.stats.reference import Reference

FLAG_RATIOS = ("wedge_ratio", "biconcave_ratio", "crush_ratio")
FLAG_SD = 3.0
GEOMETRY = ("cx", "cy", *(f"{p}_{e}_{a}" for p in ("ant", "mid", "post")
                          for e in ("sup", "inf") for a in ("x", "y")))  # fmt: skip


def score(
    cohort: pd.DataFrame,
    reference: Reference | None,
    threshold: float = FLAG_SD,
) -> tuple[pd.DataFrame, Exclusions]:
    """One row per vertebra with ``<measure>_expected``, ``_z``, ``_pct`` (and ``_p5``,
    ``_p95`` centiles from a quantile-regression reference) and the flags.

    Without a reference only the Genant flags are set; ``ratio_flag`` is then empty (NA).
    Returns the table and counts of the vertebrae that could not be scored, by reason.
    """
    table = cohort.drop(columns=[c for c in GEOMETRY if c in cohort.columns])
    notes = Exclusions()
    ratio_flag = pd.Series(pd.NA, index=table.index, dtype="boolean")
    rules = pd.Series("", index=table.index, dtype=object)
    if reference is not None:
        predictions, notes = reference.predict(table)
        columns = {}
        for measure, pred in predictions.items():
            z = (table[measure] - pred["expected"]) / pred["sd"]
            columns[f"{measure}_expected"] = pred["expected"]
            columns[f"{measure}_z"] = z
            columns[f"{measure}_pct"] = 100 * stats.norm.cdf(z)
            for centile in ("p5", "p95"):
                if centile in pred:
                    columns[f"{measure}_{centile}"] = pred[centile]
        table = pd.concat([table, pd.DataFrame(columns, index=table.index)], axis=1)
        scored = pd.Series(False, index=table.index)
        ratio_flag = pd.Series(False, index=table.index, dtype="boolean")
        for ratio in (r for r in FLAG_RATIOS if f"{r}_z" in table):
            z = table[f"{ratio}_z"]
            scored |= z.notna()
            low = (z < -threshold).fillna(False)
            ratio_flag |= low
            rules = rules.where(~low, rules + np.where(rules == "", "", ",") + ratio)
        ratio_flag = ratio_flag.where(scored & table["genant_grade"].notna(), pd.NA)
        rules = rules.where(ratio_flag.fillna(False), "")
    grade = table["genant_grade"]
    table["ratio_flag"] = ratio_flag
    table["ratio_rules"] = rules
    table["genant_flag"] = (grade >= 1).astype("boolean")
    table["flagged"] = ratio_flag.fillna(False) | table["genant_flag"].fillna(False)
    source = np.select(
        [ratio_flag.fillna(False) & table["genant_flag"].fillna(False),
         ratio_flag.fillna(False), table["genant_flag"].fillna(False)],
        ["ratio+genant", "ratio", "genant"],
        "",
    )  # fmt: skip
    table["flag_source"] = source
    return table, notes


def subject_summary(scores: pd.DataFrame, key: str = "image") -> pd.DataFrame:
    """Per subject: deformities, worst grade, spinal deformity index, ungradable levels.

    The spinal deformity index (SDI) is the sum of the Genant grades over the graded levels.
    """
    grade = scores["genant_grade"].astype(float)
    frame = pd.DataFrame(
        {
            key: scores[key],
            "graded": grade.notna(),
            "grade": grade,
            "flagged": scores["flagged"].astype(bool),
            "ratio_flag": scores["ratio_flag"].fillna(False).astype(bool),
            "genant_flag": scores["genant_flag"].fillna(False).astype(bool),
        }
    )
    grouped = frame.groupby(key, sort=False)
    summary = pd.DataFrame(
        {
            "n_levels": grouped.size(),
            "n_graded": grouped["graded"].sum(),
            "n_deformities": grouped["flagged"].sum(),
            "n_ratio_flags": grouped["ratio_flag"].sum(),
            "n_genant_flags": grouped["genant_flag"].sum(),
            "worst_grade": grouped["grade"].max(),
            "sdi": grouped["grade"].sum(min_count=1),
        }
    )
    ungradable = scores.loc[grade.isna(), [key, "level"]]
    listed = ungradable.groupby(key, sort=False)["level"].agg(
        lambda levels: ",".join(level_order(levels.astype(str)))
    )
    summary["ungradable_levels"] = listed.reindex(summary.index).fillna("")
    covariates = [c for c in ("age", "sex", "height_cm") if c in scores]
    first = scores.drop_duplicates(key).set_index(key)[covariates]
    return first.join(summary, how="right").reset_index()


def combine_subjects(parts: list[pd.DataFrame], key: str = "image") -> pd.DataFrame:
    """``subject_summary`` of a scores table from those of its consecutive batches.

    A subject whose vertebrae fall in several batches gets its counts added, its worst
    grade and SDI over all of them and its ungradable levels merged; subjects stay in the
    order they first appear, as ``subject_summary`` of the whole table gives them.
    """
    if not parts:
        return subject_summary(
            pd.DataFrame(columns=[key, "level", "genant_grade", "flagged", "ratio_flag",
                                  "genant_flag"]), key)  # fmt: skip
    table = pd.concat(parts, ignore_index=True)
    split = table[key].duplicated(keep=False)
    if not split.any():
        return table
    grouped = table.loc[split].groupby(key, sort=False)
    counts = ["n_levels", "n_graded", "n_deformities", "n_ratio_flags", "n_genant_flags"]
    merged = grouped[counts].sum()
    merged["worst_grade"] = grouped["worst_grade"].max()
    merged["sdi"] = grouped["sdi"].sum(min_count=1)
    merged["ungradable_levels"] = grouped["ungradable_levels"].agg(
        lambda lists: ",".join(level_order(x for x in ",".join(lists).split(",") if x))
    )
    first = table.loc[split].drop_duplicates(key).set_index(key)
    merged = first[[c for c in table.columns if c not in merged and c != key]].join(merged)
    merged = merged.reset_index()[table.columns]
    whole = table.loc[~split]
    order = table.drop_duplicates(key)[key].reset_index(drop=True)
    result = pd.concat([whole, merged], ignore_index=True).set_index(key).loc[order]
    return result.reset_index().astype(table.dtypes.to_dict())
