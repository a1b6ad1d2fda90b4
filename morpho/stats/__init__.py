"""Normative references, scoring and cohort summaries of vertebral measurements."""
