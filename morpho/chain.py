"""The per-film chain, in one place: a loaded radiograph -> view and decode checks ->
segment -> label and measure (``measure.measure_mask``) -> column check -> film-level call.

``morpho measure``, ``morpho batch`` and the Python API (``pipeline.measure_image``) all run
``measure_film`` with one ``FilmSettings``; batch adds only scheduling, storage and resume.
The checks that refuse a film (a frontal header, or a frontal look where no header gives the
view; a garbled decode, no vertebral column, a film on its side) and the reading of an
image file as a negative live here too, with the numbers they were set on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import pandas as pd

from morpho.errors import MorphoError
from morpho.grade import subject_calls
from morpho.io import Radiograph, read_radiograph
from morpho.io.reduced import Reduced, Reduction, read_reduced
from morpho.label.view import column_symmetry
from morpho.measure import EXTRA_COLUMNS, MEASUREMENT_COLUMNS, measure_mask
from morpho.preprocess import PreprocessConfig, make_transform
from morpho.segment.infer import body_and_cores

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

#: A film whose polarity no header gives (PNG, JPEG, plain TIFF) is read as a negative (bone
#: dark in the file) when the landmark network is unsure of the endplates on it (median
#: ``landmark_spread`` over ``UNSURE_SPREAD``) and sure enough on its negative (under
#: ``NEGATIVE_SHARE`` of that). As exported, 480 proxy films of two CTs (320-px JPEG) had a
#: median spread of 0.07-0.45 (75th percentile 0.10-0.11), the bundled sample 0.05; inverted,
#: 80 chest-CT proxy films 0.28-0.53 (graded 2-3: 39.4% against 2.9%), the sample 0.21.
UNSURE_SPREAD = 0.15
NEGATIVE_SHARE = 0.6
#: A lateral film whose bodies the landmark network reads this badly (median spread) is also
#: read turned a quarter each way; if it reads well upright (as for a negative), it is
#: refused as lying on its side. 10 proxy films turned: 0.50-0.62 (two refused as no column);
#: 480 as exported: one over 0.3 (0.45).
TURNED_SPREAD = 0.3
#: A film whose header gives no view is refused as frontal when it is mirror-symmetric about
#: its spine (``column_symmetry`` over ``FRONTAL_SYMMETRY``) and the landmark network reads
#: its endplates poorly as a lateral film's (median ``landmark_spread`` over
#: ``FRONTAL_SPREAD``). Symmetry alone is not enough: lumbar lateral DRRs of the abdominal
#: CT (abdomen in front, back muscles behind, both soft tissue) reached 0.86 (median 0.56),
#: while lateral chest DRRs stayed under 0.35; those lumbar films read well (spread median
#: 0.11, highest 0.22). Both cues (analysis/view_symmetry.py): none of 637 lateral proxies
#: (chest, thoracolumbar, lumbar; highest spread 0.45, at symmetry -0.06) is refused; of
#: frontal films 27 of 123 AASCE AP, 49 of 69 chest and spine AP DRRs, none of 20 abdominal
#: AP DRRs, the PA chest DX.
FRONTAL_SYMMETRY = 0.45
FRONTAL_SPREAD = 0.25

DECODE_MARGIN = 2  # decode at least this many times the network input's pixels
POINTS = ("ant_sup", "mid_sup", "post_sup", "post_inf", "mid_inf", "ant_inf")  # outline order


@dataclass(frozen=True)
class FilmSettings:
    """How one film is measured: every option of the chain.

    ``first_level`` names the first whole body (e.g. "T4"; one cut by the film's edge
    above it is the level before), or ``last_level`` the last (e.g. "L1", counting up; one
    cut below it is the level after); ``view`` ("lateral", "ap",
    "pa") overrides the header's (without it a frontal header is refused); ``anterior``
    ("left"/"right") overrides the facing found; ``reduced`` decodes JPEG 2000 DICOM and
    baseline JPEG files at the smallest power-of-two reduction that still holds
    ``DECODE_MARGIN`` times the network input (``morpho batch``; ``measure`` decodes whole).
    """

    first_level: str | None = None
    view: str | None = None
    anterior: str | None = None
    reduced: bool = False
    last_level: str | None = None

    def over(self, overrides: Mapping[str, Any]) -> FilmSettings:
        """These settings with a manifest row's own values (first_level, last_level, view,
        anterior): a row naming either level replaces both."""
        base = self
        if overrides.get("first_level") or overrides.get("last_level"):
            base = replace(self, first_level=None, last_level=None)
        names = {f.name for f in fields(self)} - {"reduced"}
        return replace(base, **{k: v for k, v in overrides.items() if k in names and v})

    def recorded(self) -> dict[str, Any]:
        return asdict(self)


class SegmenterLike(Protocol):
    """``segment.infer.Segmenter`` or a stand-in: probabilities at each image's size, the
    threshold, and the mask's finishing step."""

    model_version: str
    threshold: float

    def probability_maps(self, images: list[np.ndarray]) -> list[np.ndarray]: ...

    def finish(self, mask: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class FilmResult:
    """One measured film. ``radiograph`` as decoded (``pixels`` reduced where
    ``reduction.factor`` > 1; everything else describes the original); ``mask`` and
    ``probability`` at the ORIGINAL size; ``table`` one row per vertebra (the measure
    columns, points in original pixels); ``view`` the view measured."""

    radiograph: Radiograph
    reduction: Reduction
    view: str
    mask: np.ndarray
    probability: np.ndarray | None
    table: pd.DataFrame
    model_version: str | None = None
    segment_s: float = 0.0
    measure_s: float = 0.0
    negative: bool = False  # read as a negative (``UNSURE_SPREAD``): pixels inverted

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the original film."""
        return self.reduction.original_shape

    def labels(self) -> np.ndarray:
        """The body label map (``label_map``): value k is the vertebra with ``index`` k."""
        return label_map(self.mask, self.table)

    def facts(self) -> dict[str, Any]:
        """The film-level facts a batch run keeps (one row of images.parquet)."""
        rg, dropped = self.radiograph, len(self.table.attrs.get("dropped") or [])
        notes = ["read as a negative (bone dark in the file)"] if self.negative else []
        notes += [f"{dropped} object(s) dropped"] if dropped else []
        return {
            "image": rg.image_id, "rows": self.shape[0], "cols": self.shape[1],
            "decode_factor": self.reduction.factor, "segment_s": self.segment_s,
            "measure_s": self.measure_s, "model_version": self.model_version,
            "spacing_source": rg.spacing_source, "view": self.view,
            "qa": "; ".join(notes) or "ok",
            "n_vertebrae": len(self.table), "age": rg.age, "sex": rg.sex,
            "height_cm": rg.height_cm, "weight_kg": rg.weight_kg, **film_calls(self.table),
        }  # fmt: skip


def decode_shape(shape: tuple[int, int], config: PreprocessConfig,
                 margin: int = DECODE_MARGIN) -> tuple[int, int]:
    """The pixels (rows, columns) to decode from an image of ``shape``: ``margin`` (default
    ``DECODE_MARGIN``) times what the network input takes, so that the network still sees
    an area-averaged image, as in training, rather than the decoder's own reduction; a model
    JSON's ``"decode_margin"`` may ask for another (1: decode at the network's own scale)."""
    rows, columns = make_transform(shape, config).content_shape
    return margin * rows, margin * columns


def load_film(path: str | Path, settings: FilmSettings,
              config: PreprocessConfig | None = None, margin: int = DECODE_MARGIN) -> Reduced:
    """Read a film: at a reduction (``settings.reduced``, a codec that allows it, and the
    segmenter's preprocessing ``config`` and decode ``margin``), else whole."""
    if settings.reduced:
        config = config or PreprocessConfig()
        found = read_reduced(path, lambda shape: decode_shape(shape, config, margin))
        if found is not None:
            return found
    radiograph = read_radiograph(path)
    return Reduced(radiograph, Reduction(1, 0.0, radiograph.shape))


def segment_film(
    segmenter: Any, loaded: Reduced
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The body mask, probability and core probability (None without a core output) at the
    ORIGINAL size. A segmenter with ``output_maps`` (``Segmenter``) or ``probability_maps``
    gets the decoded pixels and its maps are mapped back from a reduction, then
    thresholded; a stand-in with ``segment(pixels) -> (mask, probability)`` only is used as
    it is (whole decodes only)."""
    pixels = loaded.radiograph.pixels
    if hasattr(segmenter, "output_maps"):
        (maps,) = segmenter.output_maps([pixels])
    elif hasattr(segmenter, "probability_maps"):
        (maps,) = segmenter.probability_maps([pixels])
    else:
        return (*segmenter.segment(pixels), None)
    if loaded.reduction.factor != 1:
        maps = loaded.reduction.map_to_original(maps)
    prob, cores = body_and_cores(maps)
    return segmenter.finish(prob > segmenter.threshold), prob, cores


def measure_film(
    loaded: Reduced,
    settings: FilmSettings,
    segmenter: Any = None,
    *,
    mask: np.ndarray | None = None,
    probability: np.ndarray | None = None,
    cores: np.ndarray | None = None,
    image: str | None = None,
    landmarks: Any = None,
) -> FilmResult:
    """THE chain for one loaded film: view and decode checks, segment (or the given ``mask``
    and optional ``probability`` and core probability ``cores``, original size), label and
    measure, column check. ``image`` names the rows (default: the file stem); the six
    points come from ``landmarks``, else the segmenter's landmark network where it has one.
    A lateral film it segmented is read as a negative, or refused as lying on its side, where
    the landmark network reads it so much better (``UNSURE_SPREAD``, ``TURNED_SPREAD``); a
    film measured as lateral for want of a view anywhere is refused where it looks frontal
    (``frontal_look``). Raises ``MorphoError`` (file, cause)."""
    result = _measured(loaded, settings, segmenter, mask, probability, cores, image, landmarks)
    if mask is None and result.view == "lateral":
        result = _upright(result, loaded, settings, segmenter, image, landmarks)
    if result.view == "lateral" and settings.view is None and loaded.radiograph.view == "unknown":
        check_not_frontal(result)
    check_column(result.radiograph.path or image or "film", result.table, result.probability)
    return result


def _measured(loaded: Reduced, settings: FilmSettings, segmenter: Any,
              mask: np.ndarray | None, probability: np.ndarray | None,
              cores: np.ndarray | None, image: str | None, landmarks: Any) -> FilmResult:
    """``measure_film`` without its reading checks and column check."""
    rg, reduction = loaded.radiograph, loaded.reduction
    path = rg.path or image or "film"
    view = measured_view(path, rg.view, settings.view)
    check_decode(path, rg.pixels)
    start = time.perf_counter()
    if mask is None:
        if segmenter is None:
            raise MorphoError(path, "no segmenter and no mask given")
        mask, probability, cores = segment_film(segmenter, loaded)
    mask = np.asarray(mask, bool)
    if mask.shape != reduction.original_shape:
        raise MorphoError(path, f"mask is {mask.shape[::-1]} px but the image "
                          f"{reduction.original_shape[::-1]}")  # fmt: skip
    if probability is not None and probability.shape != mask.shape:
        probability = None  # not this mask's: label the mask alone
    if cores is not None and (probability is None or cores.shape != mask.shape):
        cores = None
    segmented = time.perf_counter()
    table = measure_mask(
        mask, spacing_mm=rg.spacing_mm, spacing_source=rg.spacing_source, view=view,
        first_level=settings.first_level, last_level=settings.last_level,
        anterior=settings.anterior,
        image=rg.image_id if image is None else image, facing_hint=rg.facing, pixels=rg.pixels,
        probability=probability, cores=cores,
        landmarks=landmarks or getattr(segmenter, "landmarks", None),
    )  # fmt: skip
    table = table.reindex(columns=[*MEASUREMENT_COLUMNS, *EXTRA_COLUMNS])
    table.attrs.setdefault("dropped", [])
    return FilmResult(rg, reduction, view, mask, probability, table,
                      getattr(segmenter, "model_version", None), segmented - start,
                      time.perf_counter() - segmented)  # fmt: skip


def _upright(result: FilmResult, loaded: Reduced, settings: FilmSettings, segmenter: Any,
             image: str | None, landmarks: Any) -> FilmResult:
    """``result``, or the film read as a negative where that reads better; refused where
    it reads better only turned a quarter."""
    spread = _spread(result.table)
    if _polarity_assumed(loaded.radiograph) and spread > UNSURE_SPREAD:
        negative = _as_negative(loaded, settings, segmenter, image, landmarks, spread)
        if negative is not None:
            return negative
    if spread > TURNED_SPREAD:
        path = loaded.radiograph.path or image or "film"
        _refuse_if_turned(path, loaded, settings, segmenter, landmarks, spread)
    return result


def _polarity_assumed(rg: Radiograph) -> bool:
    """No header said which way the values run (an image file read as bone bright)."""
    return rg.modality is None and rg.photometric == "MONOCHROME2"


def _spread(table: pd.DataFrame) -> float:
    """The median ``landmark_spread`` of a film's bodies (NaN under ``MIN_BODIES`` placed)."""
    spread = table["landmark_spread"] if "landmark_spread" in table else pd.Series(dtype=float)
    return float(spread.median()) if int(spread.notna().sum()) >= MIN_BODIES else float("nan")


def _refuse_if_turned(path: str | Path, loaded: Reduced, settings: FilmSettings,
                      segmenter: Any, landmarks: Any, spread: float) -> None:
    """Refuse a film that reads well only turned a quarter (``TURNED_SPREAD``), saying which
    way to turn it: of the two quarter turns (one of them shows the film upside down, which
    the landmark network reads as well), the one whose bodies grow deeper down the film."""
    upright: dict[str, float] = {}
    for quarters, way in ((1, "counter-clockwise"), (3, "clockwise")):
        pixels = np.ascontiguousarray(np.rot90(loaded.radiograph.pixels, quarters))
        turned = Reduced(replace(loaded.radiograph, pixels=pixels, spacing_mm=None),
                         Reduction(1, 0.0, pixels.shape))
        try:
            unnamed = replace(settings, first_level=None, last_level=None)
            table = _measured(turned, unnamed, segmenter, None, None, None, None,
                              landmarks).table
        except MorphoError:
            continue
        read = _spread(table)
        if read < UNSURE_SPREAD and read < NEGATIVE_SHARE * spread:
            upright[way] = float(table["cy"].corr(table["depth_px"], method="spearman"))
    if upright:
        way = max(upright, key=lambda w: np.nan_to_num(upright[w], nan=-1.0))
        raise MorphoError(path, "the film lies on its side (the spine runs across it): "
                                f"turn it a quarter {way} and measure it again")


def _as_negative(loaded: Reduced, settings: FilmSettings, segmenter: Any, image: str | None,
                 landmarks: Any, spread: float) -> FilmResult | None:
    """The film measured as a negative, where the landmark network is surer of the endplates
    that way (``NEGATIVE_SHARE`` of the film's ``spread``; else None); every body's ``qa``
    says so."""
    rg = loaded.radiograph
    flipped = replace(rg, pixels=1.0 - rg.pixels, photometric="MONOCHROME1")
    try:
        result = _measured(Reduced(flipped, loaded.reduction), settings, segmenter, None, None,
                           None, image, landmarks)
    except MorphoError:
        return None
    if not _spread(result.table) < NEGATIVE_SHARE * spread:
        return None
    note = "film read as a negative (bone dark in the file)"
    qa = result.table["qa"].fillna("").astype(str)
    result.table["qa"] = [f"{note}; {q}" if q else note for q in qa]
    return replace(result, negative=True)


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


def check_not_frontal(result: FilmResult) -> None:
    """Refuse a film measured as lateral for want of a view in its header when it looks
    frontal (``frontal_look``): the caller or a manifest can give the view."""
    table, reduction = result.table, result.reduction
    if reduction.factor != 1:  # the decoded pixels are reduced, the table's are original
        table = table.assign(depth_px=table["depth_px"] / reduction.factor)
        table[["cx", "cy"]] = reduction.to_reduced(table[["cx", "cy"]].to_numpy())
    why = frontal_look(result.radiograph.pixels, table)
    if why:
        raise MorphoError(
            result.radiograph.path or "film",
            f"looks like a frontal film, not a lateral one ({why}), and no header gives the "
            "view; give --view ap to measure a frontal spine film, or --view lateral if it "
            "is lateral",
        )


def frontal_look(pixels: np.ndarray, table: pd.DataFrame) -> str | None:
    """Why a film measured as lateral (``table``, in ``pixels``' coordinates) looks frontal,
    or None: mirror-symmetric about its spine (over ``FRONTAL_SYMMETRY``) with endplates the
    landmark network reads poorly (median spread over ``FRONTAL_SPREAD``)."""
    spread = _spread(table)
    if not spread > FRONTAL_SPREAD:  # most lateral films: no need to sample the film
        return None
    symmetry = column_symmetry(pixels, table)
    if symmetry > FRONTAL_SYMMETRY:
        return (f"mirror-symmetric about the spine: {symmetry:.2f}, over {FRONTAL_SYMMETRY}, "
                f"and its endplates read poorly as a lateral film's: median landmark spread "
                f"{spread:.2f}, over {FRONTAL_SPREAD}")
    return None


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


def film_calls(table: pd.DataFrame) -> dict[str, Any]:
    """The film-level screening result (``grade.subject_calls``) as image facts."""
    if table.empty:
        return {"gradable": 0, "plausible": 0, "worst_grade": None, "any_grade2": False,
                "sdi": 0, "driver": "", "driver_type": ""}  # fmt: skip
    calls = subject_calls(table).iloc[0]
    worst = calls["worst_grade"]
    return {
        "gradable": int(calls["gradable"]),
        "plausible": int(table["plausible"].astype(bool).sum()),
        "worst_grade": None if pd.isna(worst) else int(worst),
        "any_grade2": bool(calls["any_grade2"]),
        "sdi": int(calls["sdi"]),
        "driver": str(calls["driver"]),
        "driver_type": str(calls["driver_type"]),
    }


def label_map(mask: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """The measured bodies as a label map (uint8, the mask's size): value k is the vertebra
    with ``index`` k, 0 elsewhere. Each mask component that holds a body's six-point outline
    (its centre where the points are missing) is kept and its pixels go to the nearest
    outline, so touching bodies are parted; components with no measured body (specks,
    fragments and off-axis objects the labelling dropped) are left out."""
    mask = np.ascontiguousarray(mask, bool)
    out = np.zeros(mask.shape, np.uint8)
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))  # all the work inside the mask's box
    if not w or table.empty:
        return out
    within = (slice(y, y + h), slice(x, x + w))
    mask = mask[within]
    seeds = np.zeros(mask.shape, np.uint8)
    for row in table.to_dict("records"):
        points = np.array([[row[f"{p}_x"], row[f"{p}_y"]] for p in POINTS], np.float64)
        index = int(row["index"])
        if np.isfinite(points).all():
            cv2.fillPoly(seeds, [np.round(points).astype(np.int32) - [x, y]], index)
        elif np.isfinite([row["cx"], row["cy"]]).all():
            cv2.circle(seeds, (round(row["cx"]) - x, round(row["cy"]) - y), 2, index, -1)
    seeds[~mask] = 0
    if not seeds.any():
        return out
    count, components = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[components[seeds > 0]] = True
    kept = keep[components].astype(np.uint8)
    bx, by, bw, bh = cv2.boundingRect(kept)  # the nearest outline: only where bodies are kept
    box = (slice(by, by + bh), slice(bx, bx + bw))
    _, nearest = cv2.distanceTransformWithLabels(
        (seeds[box] == 0).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    lookup = np.zeros(int(nearest.max()) + 1, np.uint8)
    lookup[nearest[seeds[box] > 0]] = seeds[box][seeds[box] > 0]
    out[y + by:y + by + bh, x + bx:x + bx + bw] = np.where(kept[box] > 0, lookup[nearest], 0)
    return out
