"""Do fitted references recover the simulated cohort's planted effects and fractures?

    python analysis/stats_recovery.py [repetitions] [subjects]    # default 200 x 3000

1. Coverage: over repeated cohorts, how often the 95 % CI of each planted coefficient
   (age, sex, body height; anterior/middle/posterior height at T8 and L2) holds the truth.
2. Flags: a reference fitted on one cohort scores another; sensitivity of the ratio rule
   (z < -3) and of the measured Genant grade by true grade and type, and specificity on
   intact bodies.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from morpho.stats.inputs import load_cohort
from morpho.stats.reference import fit_reference
from morpho.stats.score import score
from morpho.synth.cohort import CohortModel, simulate_cohort

LEVELS = ("T8", "L2")
MEASURES = ("ha_mm", "hm_mm", "hp_mm")


def coverage(repetitions: int, n_subjects: int) -> pd.DataFrame:
    model = CohortModel()
    hits = []
    for seed in range(repetitions):
        demo, meas = simulate_cohort(n_subjects, seed=seed, model=model, levels=LEVELS)
        cohort, _ = load_cohort(meas, demo, "image=subject_id")
        reference = fit_reference(cohort, measures=list(MEASURES))
        for fit in reference.fits:
            truth = model.coefficients(fit.level, fit.measure[:2])
            se = np.sqrt(np.diag(fit.cov))
            for name, value in truth.items():
                i = fit.columns.index(name)
                inside = abs(fit.params[i] - value) <= 1.96 * se[i]
                hits.append((fit.level, fit.measure, name, inside))
    table = pd.DataFrame(hits, columns=["level", "measure", "coefficient", "inside"])
    return table.groupby(["level", "measure", "coefficient"])["inside"].mean().unstack()


def flags(n_subjects: int, model: CohortModel | None = None) -> pd.DataFrame:
    demo, meas = simulate_cohort(n_subjects, seed=1000, model=model)
    reference = fit_reference(load_cohort(meas, demo, "image=subject_id")[0])
    demo, meas = simulate_cohort(n_subjects, seed=1001, model=model)
    scores, _ = score(load_cohort(meas, demo, "image=subject_id")[0], reference)
    scores = scores.loc[scores["ratio_flag"].notna()]  # scored and gradable
    rules = {"ratio z < -3": scores["ratio_flag"].astype(bool),
             "Genant grade >= 1": scores["genant_flag"].astype(bool)}  # fmt: skip
    intact = scores["true_grade"] == 0
    rows = []
    for rule, flagged in rules.items():
        rows.append((rule, "intact", "specificity", (~flagged[intact]).mean(), intact.sum()))
        for grade in (1, 2, 3):
            hit = scores["true_grade"] == grade
            rows.append((rule, f"grade {grade}", "sensitivity", flagged[hit].mean(), hit.sum()))
            for kind in ("wedge", "biconcave", "crush"):
                sub = hit & (scores["true_type"] == kind)
                rows.append((rule, f"grade {grade} {kind}", "sensitivity", flagged[sub].mean(),
                             sub.sum()))  # fmt: skip
    return pd.DataFrame(rows, columns=["rule", "bodies", "measure", "value", "n"])


def main(repetitions: int = 200, n_subjects: int = 3000) -> None:
    pd.set_option("display.width", 140)
    print(f"95 % CI coverage of planted coefficients, {repetitions} cohorts x {n_subjects}:")
    print(coverage(repetitions, n_subjects).round(3).to_string())
    for noise in (CohortModel().noise_sd, 0.06):
        print(f"\nflags, reference and test cohorts of {5 * n_subjects} subjects, "
              f"height noise SD {noise:.1%} of the level's height:")  # fmt: skip
        table = flags(5 * n_subjects, CohortModel(noise_sd=noise))
        print(table.round(4).to_string(index=False))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
