"""Cohort plots: heights by level, age trends, ratio z-scores, prevalence.

Figures are made with matplotlib's object API (``Figure`` with an Agg canvas), so importing
this module leaves pyplot's global backend and figure registry alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from statsmodels.stats.proportion import proportion_confint

from morpho.atomic import atomic_write
from morpho.grade import GRADE_LIMITS
from morpho.stats.inputs import level_order
from morpho.stats.score import FLAG_RATIOS, FLAG_SD
from morpho.stats.summary import height_measures

SEX_COLOURS = {"F": "tab:red", "M": "tab:blue", "O": "tab:green"}
NAMES = {"ha": "anterior", "hm": "middle", "hp": "posterior"}
MAX_POINTS = 3000


def write_plots(
    scores: pd.DataFrame, prevalence: pd.DataFrame, out_dir: str | Path, threshold: float = FLAG_SD
) -> list[Path]:
    """Write the four PNGs into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "height_by_level.png": height_by_level(scores),
        "age_trends.png": age_trends(scores),
        "ratio_distributions.png": ratio_distributions(scores, threshold),
        "prevalence.png": prevalence_plot(prevalence),
    }
    paths = []
    for name, figure in figures.items():
        path = out_dir / name
        atomic_write(path, lambda p, f=figure: f.savefig(p, format="png", dpi=110))
        paths.append(path)
    return paths


def height_by_level(scores: pd.DataFrame) -> Figure:
    """Mean height (+-1 SD band) of unflagged bodies by level, one line per sex."""
    measures = height_measures(scores)
    normal = scores.loc[~scores["flagged"].astype(bool), ["level", "sex", *measures]]
    levels = level_order(normal["level"].unique())
    fig, axes = _subplots(1, 3, figsize=(14, 4.2), sharey=True)
    for ax, measure in zip(axes, measures, strict=True):
        stats = normal.groupby(["sex", "level"])[measure].agg(["mean", "std"])
        for sex in sorted(normal["sex"].unique()):
            row = stats.loc[sex].reindex(levels)
            x = np.arange(len(levels))
            ax.plot(x, row["mean"], "o-", color=SEX_COLOURS.get(sex), label=sex, ms=3)
            ax.fill_between(x, row["mean"] - row["std"], row["mean"] + row["std"],
                            color=SEX_COLOURS.get(sex), alpha=0.2)  # fmt: skip
        ax.set_xticks(np.arange(len(levels)), levels, rotation=90)
        ax.set_title(f"{NAMES[measure[:2]]} height")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(_unit(measures[0]))
    axes[0].legend(title="sex")
    fig.suptitle("Vertebral heights by level (unflagged bodies, mean +- 1 SD)")
    fig.tight_layout()
    return fig


def age_trends(scores: pd.DataFrame, n_levels: int = 3) -> Figure:
    """Anterior height against age at a few levels, per sex: spline fit with 95 % CI band."""
    measure = height_measures(scores)[0]
    normal = scores.loc[~scores["flagged"].astype(bool) & scores[measure].notna(),
                        ["level", "sex", "age", measure]]  # fmt: skip
    levels = level_order(normal["level"].unique())
    chosen = [levels[i] for i in np.linspace(0, len(levels) - 1, n_levels).round().astype(int)]
    fig, axes = _subplots(1, len(chosen), figsize=(4.6 * len(chosen), 4), sharey=False)
    rng = np.random.default_rng(0)
    for ax, level in zip(np.atleast_1d(axes), chosen, strict=True):
        rows = normal.loc[normal["level"] == level]
        for sex, group in rows.groupby("sex"):
            colour = SEX_COLOURS.get(sex)
            shown = group.iloc[rng.permutation(len(group))[:MAX_POINTS]]
            ax.scatter(shown["age"], shown[measure], s=2, alpha=0.15, color=colour)
            if len(group) < 30:
                continue
            fit = smf.ols(f"{measure} ~ bs(age, df=4)", group).fit()
            grid = pd.DataFrame({"age": np.linspace(group["age"].min(), group["age"].max(), 80)})
            band = fit.get_prediction(grid).summary_frame(alpha=0.05)
            ax.plot(grid["age"], band["mean"], color=colour, label=f"{sex} (n={len(group)})")
            ax.fill_between(grid["age"], band["mean_ci_lower"], band["mean_ci_upper"],
                            color=colour, alpha=0.35)  # fmt: skip
        ax.set_title(f"{level}: {NAMES[measure[:2]]} height vs age")
        ax.set_xlabel("age (years)")
        ax.set_ylabel(_unit(measure))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Age trends (cubic B-spline fit per sex, 95 % confidence band)")
    fig.tight_layout()
    return fig


def ratio_distributions(scores: pd.DataFrame, threshold: float = FLAG_SD) -> Figure:
    """Histograms of each ratio's z-score against the reference, with the flag threshold."""
    fig, axes = _subplots(1, len(FLAG_RATIOS), figsize=(14, 3.8), sharey=True)
    for ax, ratio in zip(axes, FLAG_RATIOS, strict=True):
        column = f"{ratio}_z"
        if column not in scores or scores[column].notna().sum() == 0:
            ax.hist(scores[ratio].dropna(), bins=80, color="tab:gray")
            limit = 1 - GRADE_LIMITS[0]
            ax.axvline(limit, color="tab:orange", ls="--", label=f"Genant: ratio < {limit:g}")
            ax.set_title(f"{ratio} (no reference: Genant limit only)")
            ax.set_xlabel(ratio)
            ax.set_yscale("log")
            ax.legend(fontsize=8)
            continue
        z = scores[column].dropna()
        ax.hist(z.clip(-12, 6), bins=np.arange(-12, 6.25, 0.25), color="tab:gray")
        ax.axvline(-threshold, color="tab:red", ls="--", label=f"flag: z < -{threshold:g}")
        flagged = (z < -threshold).sum()
        ax.set_title(f"{ratio}: {flagged} of {len(z)} flagged ({100 * flagged / len(z):.2f} %)")
        ax.set_xlabel("z-score against the reference (clipped to -12..6)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("vertebrae")
    fig.tight_layout()
    return fig


def prevalence_plot(prevalence: pd.DataFrame) -> Figure:
    """Share of subjects with >= 1 flag by age band and sex, per rule (Wilson 95 % CI)."""
    bands = list(dict.fromkeys(prevalence["age_band"]))
    sexes = sorted(prevalence["sex"].unique())
    width = 0.8 / len(sexes)
    rules = {"with_deformity": "any flag", "with_ratio_flag": "ratio > 3 SD below reference",
             "with_genant_grade": "Genant grade >= 1"}  # fmt: skip
    fig, axes = _subplots(1, len(rules), figsize=(15, 4), sharey=True)
    for ax, (column, title) in zip(axes, rules.items(), strict=True):
        for i, sex in enumerate(sexes):
            rows = prevalence.loc[prevalence["sex"] == sex].set_index("age_band").reindex(bands)
            share = rows[column] / rows["subjects"]
            low, high = proportion_confint(rows[column], rows["subjects"], method="wilson")
            err = 100 * np.clip([share - low, high - share], 0, 1)  # rounding: -1e-17
            x = np.arange(len(bands)) + (i - (len(sexes) - 1) / 2) * width
            ax.bar(x, 100 * share, width, yerr=err, capsize=3, color=SEX_COLOURS.get(sex),
                   alpha=0.8, label=sex)  # fmt: skip
        ax.set_xticks(np.arange(len(bands)), bands)
        ax.set_xlabel("age band (years)")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("subjects with >= 1 deformity (%)")
    axes[0].legend(title="sex")
    fig.suptitle("Deformity prevalence by age band and sex (Wilson 95 % CI)")
    fig.tight_layout()
    return fig


def _subplots(rows: int, cols: int, **kwargs) -> tuple[Figure, np.ndarray]:
    """``plt.subplots`` without pyplot: a Figure on its own Agg canvas."""
    size = kwargs.pop("figsize", None)
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, **kwargs)


def _unit(measure: str) -> str:
    return "mm" if measure.endswith("_mm") else "height / image mean posterior height"
