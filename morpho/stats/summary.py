"""Cohort tables from a scores table: heights by level and sex, flags, prevalence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from morpho.atomic import atomic_write
from morpho.stats.inputs import level_order
from morpho.stats.reference import AGE_EDGES, band_labels, bands
from morpho.stats.score import FLAG_RATIOS, subject_summary

HEIGHTS_MM = ("ha_mm", "hm_mm", "hp_mm")
HEIGHTS_REL = ("ha_rel", "hm_rel", "hp_rel")
DESCRIPTIONS = {
    "heights_by_level": "Heights (mm, or relative to the image's mean posterior height when "
    "uncalibrated) and ratios of the bodies without a flag, per level and sex.",
    "flags_by_level": "Bodies per level; ratio flags (more than 3 SD below the reference) by "
    "ratio; measured Genant grades; ungradable bodies.",
    "prevalence": "Subjects with at least one flagged body (ratio or Genant), by age band and "
    "sex; Wilson 95 % confidence interval.",
}


def height_measures(scores: pd.DataFrame) -> tuple[str, ...]:
    """The mm heights when the cohort has them, else the scale-free relative heights."""
    has_mm = all(c in scores for c in HEIGHTS_MM) and scores["hp_mm"].notna().any()
    return HEIGHTS_MM if has_mm else HEIGHTS_REL


def heights_by_level(scores: pd.DataFrame) -> pd.DataFrame:
    """n, mean, SD, P5, P50, P95 of heights and ratios per level and sex, unflagged bodies."""
    measures = [m for m in (*height_measures(scores), *FLAG_RATIOS) if m in scores]
    normal = scores.loc[~scores["flagged"].astype(bool), ["level", "sex", *measures]]
    grouped = normal.groupby(["level", "sex"], observed=True)[measures]
    stats = {
        "n": grouped.count(),
        "mean": grouped.mean(),
        "sd": grouped.std(),
        "p5": grouped.quantile(0.05),
        "p50": grouped.quantile(0.5),
        "p95": grouped.quantile(0.95),
    }
    table = pd.concat({k: v.stack(future_stack=True) for k, v in stats.items()}, axis=1)
    table.index.names = ["level", "sex", "measure"]
    table = table.reset_index()
    rank = {level: i for i, level in enumerate(level_order(table["level"].unique()))}
    return table.sort_values(["measure", "level", "sex"], key=_ranker(rank)).reset_index(drop=True)


def flags_by_level(scores: pd.DataFrame) -> pd.DataFrame:
    """Per level: bodies, ratio flags (and which ratio), Genant grades 1-3, ungradable."""
    grade = scores["genant_grade"].astype(float)
    frame = pd.DataFrame(
        {
            "level": scores["level"],
            "bodies": 1,
            "ratio_flags": scores["ratio_flag"].fillna(False).astype(int),
            **{f"{r}_flags": scores["ratio_rules"].str.contains(r).astype(int)
               for r in FLAG_RATIOS},
            **{f"genant_{g}": (grade == g).astype(int) for g in (1, 2, 3)},
            "ungradable": grade.isna().astype(int),
        }
    )  # fmt: skip
    table = frame.groupby("level").sum()
    return table.loc[level_order(table.index)].reset_index()


def prevalence(subjects: pd.DataFrame, age_edges=AGE_EDGES) -> pd.DataFrame:
    """Subjects with at least one deformity, by age band and sex, with Wilson 95 % CIs."""
    frame = subjects.assign(
        age_band=bands(subjects["age"], age_edges),
        any_deformity=subjects["n_deformities"] > 0,
        any_ratio=subjects["n_ratio_flags"] > 0,
        any_genant=subjects["n_genant_flags"] > 0,
    )
    grouped = frame.groupby(["age_band", "sex"], observed=True)
    table = grouped.agg(
        subjects=("any_deformity", "size"),
        with_deformity=("any_deformity", "sum"),
        with_ratio_flag=("any_ratio", "sum"),
        with_genant_grade=("any_genant", "sum"),
    ).reset_index()
    table["prevalence"] = table["with_deformity"] / table["subjects"]
    low, high = proportion_confint(table["with_deformity"], table["subjects"], method="wilson")
    table["ci_low"], table["ci_high"] = np.asarray(low), np.asarray(high)
    rank = {band: i for i, band in enumerate(band_labels(age_edges))}
    return table.sort_values(["age_band", "sex"], key=_ranker(rank)).reset_index(drop=True)


def write_summary(scores: pd.DataFrame, out_dir: str | Path, key: str = "image") -> list[Path]:
    """CSV and markdown tables (and subjects.csv) in ``out_dir``; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    subjects = subject_summary(scores, key)
    tables = {
        "heights_by_level": heights_by_level(scores),
        "flags_by_level": flags_by_level(scores),
        "prevalence": prevalence(subjects),
    }
    written = [out_dir / "subjects.csv"]
    atomic_write(written[0], lambda p: subjects.to_csv(p, index=False))
    for name, table in tables.items():
        csv, md = out_dir / f"{name}.csv", out_dir / f"{name}.md"
        body = f"# {name.replace('_', ' ')}\n\n{DESCRIPTIONS[name]}\n\n{markdown(table)}\n"
        atomic_write(csv, lambda p, t=table: t.to_csv(p, index=False))
        atomic_write(md, lambda p, b=body: p.write_text(b))
        written += [csv, md]
    return written


def markdown(table: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub markdown table (floats rounded)."""

    def cell(value) -> str:
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else f"{value:.{digits}g}"
        return str(value)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |"]
    lines.append("|" + "---|" * len(table.columns))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


def _ranker(rank: dict):
    return lambda s: s.map(rank) if s.map(rank).notna().all() else s
