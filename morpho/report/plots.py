"""Cohort plots as PNG bytes (matplotlib, no display)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from morpho.domain import GRADE_COLOURS as GRADE_BGR  # noqa: E402
from morpho.domain import hex_colour  # noqa: E402

# The overlays' grade colours (OpenCV BGR) as matplotlib hex, grade 0 to 3.
GRADE_COLOURS = [hex_colour(GRADE_BGR[grade]) for grade in range(4)]


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def cohort_plots(images: pd.DataFrame, measurements: pd.DataFrame) -> list[bytes]:
    """Grades by level, ratio distributions by grade, and the cohort's ages and outcomes."""
    plots = []
    if len(measurements) and measurements["genant_grade"].notna().any():
        counts = (
            measurements.groupby(["label", "genant_grade"], sort=False).size().unstack(fill_value=0)
        )
        order = list(dict.fromkeys(measurements["label"]))
        counts = counts.reindex(order).reindex(columns=range(4), fill_value=0)
        share = counts.div(counts.sum(axis=1), axis=0)
        figure, axis = plt.subplots(figsize=(9, 3.2))
        share[[1, 2, 3]].plot.bar(stacked=True, ax=axis, color=GRADE_COLOURS[1:], width=0.8)
        axis.set(ylabel="share of graded bodies", xlabel="level",
                 title="Genant grade >= 1 by level")  # fmt: skip
        axis.legend([f"grade {g}" for g in (1, 2, 3)], frameon=False)
        plots.append(_png(figure))

        figure, axes = plt.subplots(1, 3, figsize=(10, 3), sharey=True)
        for axis, ratio in zip(axes, ("wedge_ratio", "biconcave_ratio", "crush_ratio"),
                               strict=True):  # fmt: skip
            for grade in range(4):
                values = measurements.loc[measurements["genant_grade"] == grade, ratio].dropna()
                if len(values):
                    axis.hist(values, bins=30, range=(0.4, 1.2), alpha=0.7,
                              color=GRADE_COLOURS[grade], label=f"grade {grade}")  # fmt: skip
            axis.set(title=ratio.replace("_", " "), xlabel="ratio")
        axes[0].set_ylabel("vertebrae")
        axes[0].legend(frameon=False, fontsize=8)
        plots.append(_png(figure))

    ages = images.loc[images["status"] == "ok", "age"].dropna()  # no empty chart without ages
    figure, axes = plt.subplots(1, 2 if len(ages) else 1, figsize=(9 if len(ages) else 4.5, 3),
                                squeeze=False)  # fmt: skip
    outcome = images["status"].value_counts()
    axes[0, 0].bar(outcome.index, outcome.values, color=["#4c78a8" if s == "ok" else "#e45756"
                                                         for s in outcome.index])  # fmt: skip
    axes[0, 0].set(title="images by outcome", ylabel="images")
    if len(ages):
        axes[0, 1].hist(ages, bins=20, color="#4c78a8")
        axes[0, 1].set(title="age of measured subjects", xlabel="years")
    plots.append(_png(figure))
    return plots


def stats_plots(scores: pd.DataFrame) -> tuple[list[bytes], list[str]]:
    """The ``morpho stats`` plots of a scored run, and a note for each that could not be drawn
    (a small cohort may lack the levels or groups a plot needs)."""
    from morpho.stats.plots import height_by_level, prevalence_plot, ratio_distributions
    from morpho.stats.score import subject_summary
    from morpho.stats.summary import prevalence

    scores = scores.assign(ratio_rules=scores["ratio_rules"].fillna("").astype(str),
                           flagged=scores["flagged"].astype(bool))  # fmt: skip
    makers = {
        "heights by level": lambda: height_by_level(scores),
        "ratio z-scores": lambda: ratio_distributions(scores),
        "prevalence by age and sex": lambda: prevalence_plot(
            prevalence(subject_summary(scores, "file"))
        ),
    }
    plots, notes = [], []
    for name, make in makers.items():
        try:
            plots.append(_png(make()))
        except Exception as exc:  # noqa: BLE001 - a plot the data cannot support is skipped
            plt.close("all")
            notes.append(f"{name}: not drawn ({type(exc).__name__}: {exc})")
    return plots, notes
