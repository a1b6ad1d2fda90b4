"""Whether a film whose header gives no view looks frontal: a frontal chest or spine film is
close to mirror-symmetric about its spine (transverse processes, ribs and lungs on both
sides), a lateral chest film is not (the posterior elements and the back on one side, the
lungs and heart on the other). A lumbar lateral film can be (soft tissue on both sides), so
the chain refuses a film only where the landmark network also reads it poorly
(``morpho.chain.frontal_look``)."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

REACH = (0.6, 2.5)  # compared this far either side of a body's centre (x the bodies' width):
#                     outside the body, whose own walls are symmetric in either view
ALONG = 0.8  # and this far above and below it (x the width)
SAMPLES = (9, 40)  # samples along the column and across it, each side
MIN_BODIES = 3
MIN_CONFIDENCE = 0.8  # bodies the segmenter is surer of than this (all when none has one)


def column_symmetry(pixels: np.ndarray, table: pd.DataFrame) -> float:
    """The median over a film's bodies of the correlation between the film beside the body
    on one side and, mirrored, on the other (``REACH`` x the bodies' median width across
    the column, ``depth_px``); NaN under ``MIN_BODIES`` bodies with enough of both sides in
    the film. Medians: about 0 on lateral chest DRRs, 0.56 on lumbar ones, 0.4-0.75 on
    frontal chest and spine films."""
    bodies = _confident(table)
    if len(bodies) < MIN_BODIES:
        return float("nan")
    centres = bodies[["cx", "cy"]].to_numpy(float)
    width = float(np.nanmedian(bodies["depth_px"]))
    if not width > 0:
        return float("nan")
    image = np.asarray(pixels, np.float32)
    along = np.linspace(-ALONG, ALONG, SAMPLES[0]) * width
    across = np.linspace(*REACH, SAMPLES[1]) * width
    values = []
    for i, centre in enumerate(centres):
        step = centres[min(i + 1, len(centres) - 1)] - centres[max(i - 1, 0)]
        u = step / (np.linalg.norm(step) + 1e-9)
        n = np.array([-u[1], u[0]])
        sides = [centre + along[:, None, None] * u + sign * across[None, :, None] * n
                 for sign in (-1, 1)]
        inside = [_inside(points, image.shape) for points in sides]
        both = inside[0] & inside[1]
        if both.mean() < 0.5:
            continue
        a, b = (cv2.remap(image, p[..., 0].astype(np.float32), p[..., 1].astype(np.float32),
                          cv2.INTER_LINEAR)[both] for p in sides)
        steady = a.std() < 1e-6 or b.std() < 1e-6
        values.append(0.0 if steady else float(np.corrcoef(a, b)[0, 1]))
    return float(np.median(values)) if len(values) >= MIN_BODIES else float("nan")


def _confident(table: pd.DataFrame) -> pd.DataFrame:
    """The bodies to compare, top to bottom: those over ``MIN_CONFIDENCE`` where the
    segmenter gave a confidence."""
    bodies = table.dropna(subset=["cx", "cy"])
    if "confidence" in bodies and bodies["confidence"].notna().any():
        bodies = bodies[bodies["confidence"] >= MIN_CONFIDENCE]
    return bodies.sort_values("cy")


def _inside(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    x, y = points[..., 0], points[..., 1]
    return (x >= 0) & (y >= 0) & (x <= shape[1] - 1) & (y <= shape[0] - 1)
