"""Inference on onnxruntime (no torch): radiograph pixels -> body mask at the original size."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from scipy.special import expit

from morpho.atomic import write_png
from morpho.errors import MorphoError
from morpho.io import read_radiograph
from morpho.label import spine_only
from morpho.preprocess import Prepared, PreprocessConfig, prepare
from morpho.resources import models_dir
from morpho.segment.overlay import BLUE, draw_outlines

DEFAULT_MODEL = "vertebra_unet.onnx"


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Full graph optimisation; intra-op threads = all cores unless given."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    return options


class Segmenter:
    """Loads an ONNX model (default: the shipped one) once; predicts body masks.

    ``flip`` averages the probabilities of each image and its left-right mirror (test-time
    augmentation, twice the network time); ``None`` takes the model config's ``"tta"``.
    ``spine_only`` (default True, as ``morpho segment`` and ``evaluate`` without
    ``--all-objects``) drops the objects the labelling would drop (specks, fragments, objects
    off the spine curve) from the masks. The measure path (``morpho.chain``, ``measure``,
    ``batch``) passes False: its labelling drops those objects itself and notes each in the
    nearest body's qa ("dropped speck ..."), which a cleaned mask would lose.
    """

    def __init__(
        self, model_path: str | Path | None = None, threads: int | None = None,
        batch_size: int = 4, flip: bool | None = None, spine_only: bool = True,
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
        self.flip = self.config.get("tta") == "flip" if flip is None else flip
        version = str(self.config.get("version", path.stem))
        self.model_version = f"{version}+flip" if self.flip else version
        self.session = ort.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )

    def probabilities(self, prepared: Sequence[Prepared]) -> list[np.ndarray]:
        """Network-size body probabilities, batched among images of one network size."""
        out: list[np.ndarray] = [np.empty(0)] * len(prepared)
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(prepared):
            by_shape.setdefault(item.array.shape, []).append(index)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = np.stack([prepared[i].array for i in chunk])[:, None].astype(np.float32)
                prob = expit(self.session.run(None, {"image": batch})[0][:, 0])
                if self.flip:
                    mirrored = np.ascontiguousarray(batch[..., ::-1])
                    (logits,) = self.session.run(None, {"image": mirrored})
                    prob = 0.5 * (prob + expit(logits[:, 0, :, ::-1]))
                for i, p in zip(chunk, prob, strict=True):
                    out[i] = p
        return out

    def probability_maps(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Body probabilities (float32) at each image's ORIGINAL size."""
        prepared = [prepare(pixels, self.preprocess) for pixels in images]
        probs = self.probabilities(prepared)
        return [p.transform.to_original(prob) for p, prob in zip(prepared, probs, strict=True)]

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
        (prob,) = self.probability_maps([pixels])
        return self.finish(prob > self.threshold), prob


def segment_file(segmenter: Segmenter, path: str | Path, out_dir: str | Path) -> Path:
    """Read one radiograph, write ``<stem>_mask.png`` (0/255), ``<stem>_prob.png`` (the body
    probability, 0-255, which ``morpho measure --mask`` reads beside the mask) and
    ``<stem>_overlay.png``."""
    path, out_dir = Path(path), Path(out_dir)
    pixels = read_radiograph(path).pixels
    mask, prob = segmenter.segment(pixels)
    mask_path = write_png(out_dir / f"{path.stem}_mask.png", mask.astype(np.uint8) * 255)
    write_png(out_dir / f"{path.stem}_prob.png", np.round(prob * 255).astype(np.uint8))
    write_png(out_dir / f"{path.stem}_overlay.png", draw_outlines(pixels, [(mask, BLUE)]))
    return mask_path
