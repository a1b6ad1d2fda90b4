"""The overlay picture: the radiograph with each measured body's six-point outline."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pandas as pd

from morpho.domain import GRADE_COLOURS, UNGRADED_COLOUR

OUTLINE = ["ant_sup", "mid_sup", "post_sup", "post_inf", "mid_inf", "ant_inf"]
LABEL_SCALE = 0.6  # level names this size x the line thickness, outlined so they read on bone


def overlay_png(
    pixels: np.ndarray,
    table: pd.DataFrame,
    original_shape: tuple[int, int] | None = None,
    max_side: int = 900,
) -> bytes:
    """PNG bytes: the image (bone bright, [0, 1]) scaled to ``max_side``, outlines on top.

    ``table`` holds points in ORIGINAL pixels of an image of ``original_shape`` (rows,
    columns), which defaults to the shape of ``pixels`` (give it for a reduced decode).
    """
    rows, columns = original_shape or pixels.shape[:2]
    scale = min(1.0, max_side / max(rows, columns))
    size = (round(columns * scale), round(rows * scale))
    gray = cv2.resize(pixels.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    canvas = cv2.cvtColor((np.clip(gray, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    thickness = max(1, round(max(size) / 450))
    for row in table.to_dict("records"):
        points = np.array([[row[f"{p}_x"], row[f"{p}_y"]] for p in OUTLINE], dtype=np.float64)
        if not np.isfinite(points).all():
            continue
        # original pixel centres -> scaled pixel centres
        points = (points + 0.5) * [size[0] / columns, size[1] / rows] - 0.5
        grade = row.get("genant_grade")
        colour = (
            GRADE_COLOURS.get(int(grade), UNGRADED_COLOUR) if pd.notna(grade) else UNGRADED_COLOUR
        )
        cv2.polylines(canvas, [np.round(points).astype(np.int32)], True, colour, thickness,
                      cv2.LINE_AA)  # fmt: skip
        label = str(row.get("level") or row.get("index"))
        anchor = points[[2, 3]].mean(axis=0) + [6 * thickness, 0]
        at = tuple(np.round(anchor).astype(int))
        for ink, weight in (((0, 0, 0), thickness + 3), (colour, thickness)):  # dark outline
            cv2.putText(canvas, label, at, cv2.FONT_HERSHEY_SIMPLEX, LABEL_SCALE * thickness,
                        ink, weight, cv2.LINE_AA)  # fmt: skip
    ok, encoded = cv2.imencode(".png", canvas)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()


def data_uri(png: bytes) -> str:
    """A PNG inlined as a ``data:`` URI (reports carry no external files)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
