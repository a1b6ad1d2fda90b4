"""The whole chain for one file: read -> segment (or a given mask) -> label -> measure.

Also the picture ``morpho measure`` writes beside the table.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from morpho.domain import GRADE_COLOURS, UNGRADED_COLOUR
from morpho.errors import MorphoError
from morpho.io import Radiograph, read_radiograph
from morpho.measure import measure_mask

#: The plausibility gate (``column_problem``), through the default model: 140 of 141 real-like
#: films pass (the sample, 120 DRRs, 20 fractured DRRs: 3-18 bodies, upper-quartile body
#: probability 0.91 or more; the one refused has no body found), and 12 phantoms (0.81 or
#: more); 24 noise, blur, gradient, speckle and block films are all refused (0.77 or less
#: where they have 3-40 bodies).
MIN_BODIES = 3
MAX_BODIES = 40  # C2 to S1 is 23 bodies; more is texture cut into blobs
MIN_CONFIDENCE = 0.78  # upper quartile of the bodies' mean probability

#: A garbled decode (a damaged JPEG 2000 decodes silently: its broken code-blocks come out as
#: pixel noise): over 1% of 16-px tiles with a mean step between neighbouring pixels over 0.4
#: of the range. Real films: none (the noisiest of 640 DRRs has tiles up to 0.31 only, the
#: sample 0.08); the sample with 5000 scrambled bytes: 1-28% where the damage shows (11 of 20
#: scramblings; the others decode to a near-normal film).
NOISE_TILE, NOISE_STEP, MAX_NOISE_SHARE = 16, 0.4, 0.01

# BGR colours by Genant grade (0 green, mild yellow, moderate orange, severe red)


def read_mask(path: str | Path) -> np.ndarray:
    """A binary mask PNG (any value > 0 is body) as a boolean array."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise MorphoError(path, "cannot read the mask")
    return mask > 0


def read_probability(mask_path: str | Path) -> np.ndarray | None:
    """The body probability (0-1) that ``morpho segment`` writes beside a mask
    (``<stem>_prob.png`` for ``<stem>_mask.png``), or None when there is none."""
    mask_path = Path(mask_path)
    if not mask_path.name.endswith("_mask.png"):
        return None
    path = mask_path.with_name(mask_path.name[: -len("_mask.png")] + "_prob.png")
    values = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
    return None if values is None else values.astype(np.float32) / 255


def measured_view(path: str | Path, header_view: str | None, view: str | None = None) -> str:
    """'ap' or 'lateral': the given ``view``, else the header's. A header that says frontal
    (AP/PA) is refused without a given view: morpho screens lateral films, and a frontal
    chest film measured as a spine gives nonsense."""
    if view:
        return "ap" if view.lower() in ("ap", "pa") else "lateral"
    if (header_view or "").lower() in ("ap", "pa"):
        raise MorphoError(
            path,
            f"frontal film ({header_view.upper()} view in the header), not a lateral one; "
            "give --view ap to measure a frontal spine film, or --view lateral if the "
            "header is wrong",
        )
    return "lateral"


def column_problem(df: pd.DataFrame) -> str | None:
    """Why the bodies a segmenter found do not look like a vertebral column (noise, a
    non-radiograph, a garbled decode), or None. Judged only where the segmenter's probability
    gave each body a ``confidence``; a mask given without one is taken as it is."""
    if "confidence" not in df or (len(df) and df["confidence"].isna().all()):
        return None
    if len(df) < MIN_BODIES:
        return f"{len(df)} vertebral bod{'y' if len(df) == 1 else 'ies'} found"
    if len(df) > MAX_BODIES:
        return f"{len(df)} body-like objects, more than a spine has"
    confidence = float(np.percentile(df["confidence"], 75))
    if confidence < MIN_CONFIDENCE:
        return (f"not a quarter of the bodies has a mean probability of {MIN_CONFIDENCE} "
                f"(upper quartile {confidence:.2f})")
    return None


def noise_share(pixels: np.ndarray) -> float:
    """The share of ``NOISE_TILE`` tiles of ``pixels`` (0-1) that are pixel noise."""
    p = np.ascontiguousarray(pixels, np.float32)  # OpenCV: one pass each, ~2.5x numpy
    steps = cv2.add(cv2.absdiff(p[:-1, 1:], p[:-1, :-1]), cv2.absdiff(p[1:, :-1], p[:-1, :-1]))
    rows, cols = (s // NOISE_TILE * NOISE_TILE for s in steps.shape)
    if not rows or not cols:
        return 0.0
    tiles = cv2.resize(steps[:rows, :cols], (cols // NOISE_TILE, rows // NOISE_TILE),
                       interpolation=cv2.INTER_AREA)  # whole tiles: their means
    return float(np.mean(tiles > NOISE_STEP))


def check_decode(path: str | Path, pixels: np.ndarray) -> None:
    """Raise ``MorphoError`` for a film that decoded as mostly pixel noise."""
    share = noise_share(pixels)
    if share > MAX_NOISE_SHARE:
        raise MorphoError(path, f"{share:.0%} of the film is pixel noise (a damaged or garbled "
                          "file?); not measured")


def check_column(path: str | Path, df: pd.DataFrame, probability: np.ndarray | None) -> None:
    """Raise ``MorphoError`` when a segmented film shows no vertebral column."""
    problem = None if probability is None else column_problem(df)
    if problem:
        raise MorphoError(path, f"no vertebral column found ({problem}); not measured")


def measure_image(
    path: str | Path,
    *,
    segmenter: object | None = None,
    mask: np.ndarray | str | Path | None = None,
    first_level: str | None = None,
    anterior: str | None = None,
    view: str | None = None,
    image: str | None = None,
) -> tuple[Radiograph, np.ndarray, pd.DataFrame]:
    """Read one radiograph, segment it (or take ``mask``) and measure its vertebrae.

    ``segmenter`` has ``.segment(pixels) -> (bool mask, probability or None)``; without
    it and without a mask the default model is loaded. A mask file keeps the probability
    ``morpho segment`` wrote beside it (``read_probability``). ``view`` overrides the file's
    view ("unknown" counts as lateral; a frontal header without ``view`` is refused, see
    ``measured_view``). ``image`` names the rows (default: the file stem).
    Returns the radiograph, the body mask (original size) and the measurements.
    """
    rg = read_radiograph(path)
    measured = measured_view(path, rg.view, view)
    check_decode(path, rg.pixels)
    probability = None
    if mask is None:
        if segmenter is None:
            try:
                from morpho.segment.infer import Segmenter
            except ImportError as exc:
                raise MorphoError(path, f"no segmentation model available ({exc})") from exc
            segmenter = Segmenter()
        mask, probability = segmenter.segment(rg.pixels)
    elif not isinstance(mask, np.ndarray):
        probability = read_probability(mask)
        mask = read_mask(mask)
    mask = np.asarray(mask, bool)
    if mask.shape != rg.shape:
        raise MorphoError(path, f"mask is {mask.shape[::-1]} px but the image {rg.shape[::-1]}")
    if probability is not None and probability.shape != mask.shape:
        probability = None  # not this mask's: label the mask alone
    df = measure_mask(
        mask,
        spacing_mm=rg.spacing_mm,
        spacing_source=rg.spacing_source,
        view=measured,
        first_level=first_level,
        anterior=anterior,
        image=rg.image_id if image is None else image,
        facing_hint=rg.facing,
        pixels=rg.pixels,
        probability=probability,
    )
    check_column(path, df, probability)
    return rg, mask, df


def overlay(pixels: np.ndarray, mask: np.ndarray, df: pd.DataFrame) -> np.ndarray:
    """BGR picture: outlines coloured by grade, the six points, heights and level names."""
    lo, hi = np.percentile(pixels, [0.5, 99.5])
    grey = np.clip((pixels - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
    img = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    scale = max(img.shape) / 1000
    thick = max(1, round(1.5 * scale))
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(img, contours, -1, UNGRADED_COLOUR, thick)
    for r in df.itertuples():
        grade = None if pd.isna(r.genant_grade) else int(r.genant_grade)
        colour = GRADE_COLOURS.get(grade, UNGRADED_COLOUR)
        pts = {}
        for p in ("ant", "mid", "post"):
            for e in ("sup", "inf"):
                x, y = getattr(r, f"{p}_{e}_x"), getattr(r, f"{p}_{e}_y")
                if np.isfinite(x) and np.isfinite(y):
                    pts[p, e] = (round(x), round(y))
            if (p, "sup") in pts and (p, "inf") in pts:
                cv2.line(img, pts[p, "sup"], pts[p, "inf"], colour, thick)
        for xy in pts.values():
            cv2.circle(img, xy, 2 * thick + 1, colour, -1)
        name = r.level or f"#{r.index}"
        if grade:
            name += f" G{grade}"
        side = max(r.ant_sup_x, r.post_sup_x, r.ant_inf_x, r.post_inf_x, r.cx)
        _text(img, name, (round(side + 10 * scale), round(r.cy)), scale, colour)
    return img


def _text(img: np.ndarray, text: str, at: tuple[int, int], scale: float, colour) -> None:
    font, size = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale
    (w, h), _ = cv2.getTextSize(text, font, size, max(1, round(scale)))
    org = (min(at[0], img.shape[1] - w - 2), at[1] + h // 2)
    cv2.putText(img, text, org, font, size, (0, 0, 0), max(1, round(scale)) + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, font, size, colour, max(1, round(scale)), cv2.LINE_AA)
