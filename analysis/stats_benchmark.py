"""Time `stats fit` and `stats score` (library calls) on a large simulated cohort.

    python analysis/stats_benchmark.py [n_subjects]   # default 100000 subjects x 12 levels

Prints the wall and CPU seconds of each step (run with OMP_NUM_THREADS=1 to compare CPU
time); load/validation/join is timed separately from the fit.
"""

from __future__ import annotations

import sys
import time

from morpho.stats.inputs import load_cohort
from morpho.stats.reference import fit_reference
from morpho.stats.score import score, subject_summary
from morpho.synth.cohort import LEVELS, simulate_cohort


def timed(label: str, fn, *args, **kwargs):
    """Run and print wall and CPU seconds (CPU time is the honest one on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<34} {wall:7.2f} s wall {cpu:7.2f} s CPU")
    return result


def main(n_subjects: int = 100_000) -> None:
    levels = LEVELS[1:]  # T5-L4: 12 levels
    demographics, measurements = timed(
        "simulate cohort", simulate_cohort, n_subjects, seed=0, levels=levels
    )
    print(f"{n_subjects} subjects x {len(levels)} levels = {len(measurements)} vertebrae")
    cohort, _ = timed("load + validate + join", load_cohort, measurements, demographics,
                      "image=subject_id")  # fmt: skip
    reference = timed("fit (ols, 9 measures, trimming)", fit_reference, cohort)
    print(f"  {len(reference.fits)} level x measure fits, {len(reference.cells)} cells")
    scores, _ = timed("score", score, cohort, reference)
    timed("subject summary", subject_summary, scores)
    small = cohort.loc[cohort["image"].isin(demographics["subject_id"][:10_000])]
    for method in ("rlm", "quantreg"):
        timed(f"fit ({method}, 10000 subjects)", fit_reference, small, method=method)
    timed("fit (ols, 10000 subjects)", fit_reference, small)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
