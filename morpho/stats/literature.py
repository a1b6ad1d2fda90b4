"""The literature reference shipped with morpho (currently none: see the data file's note)."""

from __future__ import annotations

import json
from importlib import resources

from morpho.errors import MorphoError

DATA_FILE = "literature_reference.json"


def literature_reference() -> tuple[None, str]:
    """The shipped literature reference, if any, and a sentence saying what was used.

    No citable table of normative ratios by level and sex was found, so none ships; the
    sentence then says that scoring runs without z-scores or ratio flags.
    """
    path = resources.files("morpho.stats").joinpath("data", DATA_FILE)
    if json.loads(path.read_text())["values"]:
        raise MorphoError(
            str(path), "literature values are listed but this version cannot read them"
        )
    return None, (
        "none: no fitted reference was given and morpho ships no literature reference "
        "(no citable table was found); z-scores and ratio flags are not computed, "
        "only the Genant grades are summarised. Fit one with `morpho stats fit`."
    )
