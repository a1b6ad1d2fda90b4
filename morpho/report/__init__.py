"""Screening reports: per image or subject and per cohort (self-contained HTML), DICOM SEG
and SR, and the one overlay renderer (``overlay``).

``write_cohort_report`` and ``write_subject_reports`` are imported on first use, so that a
batch worker drawing overlays does not load the report's statistics and plotting."""

from __future__ import annotations

__all__ = ["write_cohort_report", "write_subject_reports"]


def __getattr__(name: str):
    if name in __all__:
        from morpho.report import html

        return getattr(html, name)
    raise AttributeError(f"module 'morpho.report' has no attribute {name!r}")
