"""Cohort runs: the per-image chain over many files, resumable, on a local pool or Ray."""

from morpho.batch.items import BatchItem, items_from_input
from morpho.batch.runner import BatchSummary, run_batch

__all__ = ["BatchItem", "BatchSummary", "items_from_input", "run_batch"]
