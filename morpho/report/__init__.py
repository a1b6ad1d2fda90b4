"""Screening reports: per image or subject and per cohort (self-contained HTML), DICOM-SEG."""

from morpho.report.html import write_cohort_report, write_subject_reports

__all__ = ["write_cohort_report", "write_subject_reports"]
