"""Reader review of a batch run: corrections (``corrections.csv``) and the local web page."""

from morpho.review.corrections import Correction, apply_corrections, load_corrections

__all__ = ["Correction", "apply_corrections", "load_corrections"]
