"""Small simulated cohorts shared by the stats tests."""

from __future__ import annotations

import pytest

from morpho.stats.inputs import load_cohort
from morpho.stats.reference import fit_reference
from morpho.synth.cohort import simulate_cohort


@pytest.fixture(scope="session")
def cohort():
    demographics, measurements = simulate_cohort(1500, seed=11)
    table, _ = load_cohort(measurements, demographics, "image=subject_id")
    return table


@pytest.fixture(scope="session")
def reference(cohort):
    return fit_reference(cohort)
