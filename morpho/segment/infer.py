"""Inference on onnxruntime (no torch): radiograph pixels -> body mask at the original size."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from scipy.special import expit

from morpho.errors import MorphoError
from morpho.label import spine_only
from morpho.landmarks import LandmarkModel
from morpho.preprocess import Prepared, PreprocessConfig, prepare
from morpho.resources import models_dir

DEFAULT_MODEL = "vertebra_unet.onnx"
#: Test-time augmentation, the model JSON's ``"tta"``: none; the mirrored pass on every film
#: ("flip", twice the network time); or the mirrored pass only on films whose plain pass is
#: uncertain ("flip-if-uncertain", see ``uncertain_share``).
TTA_MODES = ("none", "flip", "flip-if-uncertain")
#: "flip-if-uncertain": a film gets the mirrored pass when over ``UNCERTAIN_SHARE`` of its
#: body region (plain probability >= ``UNCERTAIN_BAND[0]``) lies inside ``UNCERTAIN_BAND``.
#: The model JSON may set its own (``"tta_band"``, ``"tta_uncertain_share"``).
#: Measured (analysis/speed_tta_eval.py, test splits): the statistic does not pick out the
#: films the mirror helps; mirroring 75% of the films costs 0.001 Dice on AASCE and 0.006 on
#: the synthetic laterals (which have shares 0.10-0.20, so 0.1 mirrors nearly all of them).
#: One pass in the network's better facing where the film's facing is known (scored offline
#: by that script): synthetic laterals 0.837 Dice vs 0.828 with "flip", but the bundled
#: sample gives 18 bodies, 2 gradable, vs 13 and 11 (the previous model; the current one
#: misses its T12 wedge): the network's facing bias differs between domains, so it is not
#: offered. "flip-if-uncertain" is not the shipped default.
UNCERTAIN_BAND = (0.3, 0.7)
UNCERTAIN_SHARE = 0.1
#: The zoomed pass (a model JSON's ``"zoom"``: the largest zoom, 0 or 1 = none): the spine
#: the first pass found (its box, padded by ``ZOOM_PAD`` of the box's short side) is
#: segmented again at a larger scale, at most ``zoom`` times the first pass's and never past
#: the decoded pixels (a box holds at least the network's pixel budget), and its
#: probability replaces the first pass's there. Skipped where the gain is under
#: ``ZOOM_MIN``, i.e. where the box covers most of the film.
ZOOM_PAD = 0.25
ZOOM_MIN = 1.15


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL


def landmarks_for(config: dict, folder: Path, threads: int | None = None
                  ) -> LandmarkModel | None:
    """The landmark network a model config names (``"landmarks"``: a file in ``folder``,
    else among the shipped models); None where it names none."""
    name = config.get("landmarks")
    if not name:
        return None
    path = folder / name if (folder / name).exists() else models_dir() / name
    return LandmarkModel(path, session_options(threads))


def default_landmarks(threads: int | None = None) -> LandmarkModel | None:
    """The landmark network of the shipped model (None where it names none)."""
    path = default_model_path()
    return landmarks_for(json.loads(path.with_suffix(".json").read_text()), path.parent,
                         threads)


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Full graph optimisation; intra-op threads = all cores unless given. With one thread
    per batch worker, the extended level, no spinning, no memory pattern and two images per
    run measured the same within noise; the basic level and no memory arena were slower."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    return options


def zoom_box(prob: np.ndarray, threshold: float, budget: int, zoom: float
             ) -> tuple[slice, slice] | None:
    """The box (rows, columns) of the zoomed pass over a first pass's probability ``prob``
    (the decoded film's size), or None when it would not zoom by ``ZOOM_MIN`` (see
    ``ZOOM_PAD``; ``budget``: the network's pixel budget)."""
    rows, cols = np.nonzero(spine_only(prob > threshold))
    if rows.size == 0:
        return None
    h, w = prob.shape
    pad = ZOOM_PAD * min(np.ptp(rows), np.ptp(cols))
    centre = np.array([rows.min() + rows.max(), cols.min() + cols.max()]) / 2
    half = np.array([np.ptp(rows), np.ptp(cols)]) / 2 + pad
    least = max(budget, h * w / zoom**2)  # area: native pixels, and at most ``zoom``
    limit = np.array([h / 2, w / 2])
    if 4 * half.prod() < least:
        half = np.minimum(half * np.sqrt(least / (4 * half.prod())), limit)
        for k in (0, 1):  # a side held by the film's edge: the other grows instead
            half[1 - k] = min(max(half[1 - k], least / (4 * half[k])), limit[1 - k])
    half = np.minimum(half, limit)
    centre = np.clip(centre, half, [h - half[0], w - half[1]])
    r0, c0 = np.floor(centre - half).astype(int)
    r1, c1 = np.ceil(centre + half).astype(int)
    if (r1 - r0) * (c1 - c0) * ZOOM_MIN**2 > h * w:
        return None
    return slice(max(r0, 0), min(r1, h)), slice(max(c0, 0), min(c1, w))


def uncertain_share(prob: np.ndarray, band: tuple[float, float] = UNCERTAIN_BAND) -> float:
    """The share of the body region (probability >= ``band[0]``) whose probability lies
    inside ``band``; 1.0 where there is no body region (nothing found: worth a second look)."""
    region = int(np.count_nonzero(prob >= band[0]))
    if not region:
        return 1.0
    return int(np.count_nonzero((prob >= band[0]) & (prob <= band[1]))) / region


def tta_mode(config: dict, flip: bool | str | None) -> str:
    """The test-time augmentation: ``flip`` True/False/a mode name, else the config's."""
    if isinstance(flip, bool):
        return "flip" if flip else "none"
    mode = flip or config.get("tta") or "none"
    if mode not in TTA_MODES:
        raise MorphoError("model", f"unknown tta {mode!r} (one of {', '.join(TTA_MODES)})")
    return mode


class Segmenter:
    """Loads an ONNX model (default: the shipped one) once; predicts body masks.

    ``flip`` averages the probabilities of each image and its left-right mirror (test-time
    augmentation, twice the network time); "flip-if-uncertain" runs the mirror only for the
    images whose plain pass is uncertain (``uncertain_share``); ``None`` takes the model
    config's ``"tta"``. ``flipped`` / ``passes`` count the images that got the mirror.
    ``spine_only`` (default True, as ``morpho segment`` and ``evaluate`` without
    ``--all-objects``) drops the objects the labelling would drop (specks, fragments, objects
    off the spine curve) from the masks. The measure path (``morpho.chain``, ``measure``,
    ``batch``) passes False: its labelling drops those objects itself and notes each in the
    nearest body's qa ("dropped speck ..."), which a cleaned mask would lose. A config's
    ``"landmarks"`` (an ONNX file beside the model, else among the shipped models) loads
    the landmark network as ``landmarks`` (``morpho.landmarks``; None without one), which
    the measuring uses to place the six points.
    """

    def __init__(
        self, model_path: str | Path | None = None, threads: int | None = None,
        batch_size: int = 4, flip: bool | str | None = None, spine_only: bool = True,
    ):
        path = Path(model_path) if model_path else default_model_path()
        path = path.with_suffix(".onnx")
        config_path = path.with_suffix(".json")
        if not path.exists() or not config_path.exists():
            raise MorphoError(path, "model not found (needs .onnx and .json side by side)")
        self.config = json.loads(config_path.read_text())
        self.preprocess = PreprocessConfig.from_dict(self.config["preprocess"])
        self.threshold = float(self.config.get("threshold", 0.5))
        self.batch_size = batch_size
        self.spine_only = spine_only
        self.tta = tta_mode(self.config, flip)
        self.flip = self.tta != "none"
        self.band = tuple(self.config.get("tta_band", UNCERTAIN_BAND))
        self.uncertain_share = float(self.config.get("tta_uncertain_share", UNCERTAIN_SHARE))
        self.zoom = float(self.config.get("zoom") or 0.0)
        self.passes = self.flipped = self.zoomed = 0
        version = str(self.config.get("version", path.stem))
        self.model_version = version + ("" if self.tta == "none" else f"+{self.tta}")
        self.session = ort.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
        self.landmarks = landmarks_for(self.config, path.parent, threads)
        if self.landmarks is not None:  # short: DICOM's LO values hold 64 characters
            self.model_version += f"+lm-{self.landmarks.version.rsplit('-', 1)[-1]}"

    def probabilities(self, prepared: Sequence[Prepared]) -> list[np.ndarray]:
        """Network-size output probabilities (the body; with a core output, (H, W, 2): body,
        core), batched among images of one network size."""
        out: list[np.ndarray] = [np.empty(0)] * len(prepared)
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(prepared):
            by_shape.setdefault(item.array.shape, []).append(index)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = np.stack([prepared[i].array for i in chunk])[:, None].astype(np.float32)
                for i, p in zip(chunk, self._batch_probabilities(batch), strict=True):
                    out[i] = p
        return out

    def run_network(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, C, H, W) of a network-size batch (N, 1, H, W); C = 2 with a core output."""
        return self.session.run(None, {"image": batch})[0]

    def _batch_probabilities(self, batch: np.ndarray) -> np.ndarray:
        """The plain pass, averaged with the mirrored one for the images the mode mirrors."""
        prob = expit(self.run_network(batch))
        mirror = self._mirrored(prob[:, 0])
        if mirror:
            logits = self.run_network(np.ascontiguousarray(batch[mirror][..., ::-1]))
            prob[mirror] = 0.5 * (prob[mirror] + expit(logits[..., ::-1]))
        self.passes += len(batch)
        self.flipped += len(mirror)
        return prob[:, 0] if prob.shape[1] == 1 else np.moveaxis(prob, 1, -1)

    def _mirrored(self, prob: np.ndarray) -> list[int]:
        """The images of a batch (plain probabilities ``prob``) that get the mirrored pass."""
        if self.tta == "flip":
            return list(range(len(prob)))
        if self.tta == "flip-if-uncertain":
            return [i for i, p in enumerate(prob)
                    if uncertain_share(p, self.band) > self.uncertain_share]  # fmt: skip
        return []

    def output_maps(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Output probabilities (float32) at each image's ORIGINAL size: the body's (H, W),
        or with a core output (H, W, 2), body and core."""
        prepared = [prepare(pixels, self.preprocess) for pixels in images]
        probs = self.probabilities(prepared)
        maps = [p.transform.to_original(prob) for p, prob in zip(prepared, probs, strict=True)]
        return maps if self.zoom <= 1 else [self._zoomed(i, m) for i, m in zip(images, maps,
                                                                                 strict=True)]

    def probability_maps(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Body probabilities (float32) at each image's ORIGINAL size."""
        return [body_and_cores(m)[0] for m in self.output_maps(images)]

    def _zoomed(self, pixels: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """``prob`` with the zoomed pass over the spine's box (see ``ZOOM_PAD``)."""
        budget = self.preprocess.height * self.preprocess.width
        box = zoom_box(body_and_cores(prob)[0], self.threshold, budget, self.zoom)
        if box is None:
            return prob
        crop = prepare(pixels[box], self.preprocess)
        (inner,) = self.probabilities([crop])
        out = prob.copy()
        out[box] = crop.transform.to_original(inner)
        self.zoomed += 1
        return out

    def finish(self, mask: np.ndarray) -> np.ndarray:
        """A thresholded mask as this segmenter returns it (spine only, if asked)."""
        return spine_only(mask) if self.spine_only else mask

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Boolean masks at each image's ORIGINAL size."""
        return [self.finish(p > self.threshold) for p in self.probability_maps(images)]

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Boolean body mask at the ORIGINAL size of ``pixels``."""
        return self.predict_batch([pixels])[0]

    def segment(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The body mask and the body probability at the ORIGINAL size of ``pixels`` (the
        labelling parts merged bodies between the probability's confident cores)."""
        mask, prob, _ = self.segment_with_cores(pixels)
        return mask, prob

    def segment_with_cores(
        self, pixels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``segment`` and the core probability (None without a core output), for
        ``measure.measure_mask``'s ``cores``."""
        (maps,) = self.output_maps([pixels])
        prob, cores = body_and_cores(maps)
        return self.finish(prob > self.threshold), prob, cores


def body_and_cores(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """An ``output_maps`` map -> (body probability, core probability or None)."""
    return (maps, None) if maps.ndim == 2 else (maps[..., 0], maps[..., 1])
