"""Synthetic radiographs with exact truth: DRRs from CT, a 2-D phantom, fractures, cohorts."""

from __future__ import annotations

from morpho import domain

LEVEL_NAMES = domain.CT_LEVELS  # every level a CT label map may name
DATASET_LEVELS = list(domain.DATASET_LEVELS)  # as written into a set's dataset.json

__all__ = ["DATASET_LEVELS", "LEVEL_NAMES"]
