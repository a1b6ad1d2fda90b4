"""The domain's facts, defined once: vertebral level names and the grade colours.

Every module that names levels or colours grades imports them from here.
"""

from __future__ import annotations

CERVICAL = tuple(f"C{i}" for i in range(1, 8))
THORACIC = tuple(f"T{i}" for i in range(1, 13))
LUMBAR = tuple(f"L{i}" for i in range(1, 6))

LEVELS: tuple[str, ...] = (*CERVICAL, *THORACIC, *LUMBAR, "S1")
"""The names given down the spine from a first level (C1..L5, then the sacrum)."""

CT_LEVELS: tuple[str, ...] = (*CERVICAL, *THORACIC, *LUMBAR, "L6")
"""Every level a CT label map may name, cranial to caudal (VerSe numbers them 1-25: a
transitional sixth lumbar vertebra is labelled L6)."""

LEVEL_ORDER: tuple[str, ...] = (*CT_LEVELS, "S1")
"""Cranial-to-caudal order of every level name a table may hold."""

DATASET_LEVELS: tuple[str, ...] = (*THORACIC, *LUMBAR)
"""Levels with a body mask in training sets (T1-L5, as in the AASCE annotations)."""

GRADE_COLOURS: dict[int, tuple[int, int, int]] = {
    0: (80, 200, 80), 1: (0, 230, 255), 2: (0, 140, 255), 3: (40, 40, 230),
}  # fmt: skip
"""Genant grade 0-3 as BGR (OpenCV): green, yellow, orange, red."""
UNGRADED_COLOUR: tuple[int, int, int] = (170, 170, 170)


def hex_colour(bgr: tuple[int, int, int]) -> str:
    """``(b, g, r)`` -> ``"#rrggbb"`` for HTML and matplotlib."""
    return "#{2:02x}{1:02x}{0:02x}".format(*bgr)
