"""Synthetic radiographs with exact truth: DRRs from CT, a 2-D phantom, fractures, cohorts."""

from __future__ import annotations

LEVEL_NAMES: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 13)),
    *(f"L{i}" for i in range(1, 7)),
)
"""Every level a CT label map may name, cranial to caudal."""

DATASET_LEVELS: list[str] = [*(f"T{i}" for i in range(1, 13)), *(f"L{i}" for i in range(1, 6))]
"""Levels that get a mask in generated sets (T1-L5, as in the AASCE annotations)."""
