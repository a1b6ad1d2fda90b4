"""morpho: vertebral morphometry on lateral chest radiographs."""

__version__ = "0.1.0"
