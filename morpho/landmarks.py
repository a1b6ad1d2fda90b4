"""Six points per body from the film itself (onnxruntime, no torch).

The landmark network reads a SIDE x SIDE crop around each body the mask found (the film
8-bit and CLAHE'd as the body network sees it, anterior turned to the left) and gives a
heatmap per point; the points are the heatmaps' centres of mass and their spread says how
sure it is. It sees the endplate edges inside the silhouette, where a mask's outline
follows the endplate rims (models/LANDMARK_MODEL_CARD.md). ``measure`` uses it where the segmenter's
model names one (its JSON's ``"landmarks"``); the torch side is ``morpho.segment.landmarks``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from morpho.errors import MorphoError

SIDE = 96
CROP_SCALE = 1.7  # crop side / the larger extent of a body's six points
BATCH = 32


def crop(img: np.ndarray, centre: np.ndarray, size: float, flip: bool, angle: float = 0.0
         ) -> tuple[np.ndarray, np.ndarray]:
    """A SIDE x SIDE crop of side ``size`` px around ``centre`` (x, y), turned by ``angle``
    degrees and mirrored with ``flip``, and the 2x3 map from film (x, y) to crop (u, v)."""
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, SIDE / size)
    m[:, 2] += SIDE / 2 - np.asarray(centre, float)
    # bilinear both ways (warpAffine has no area mode); a 3x upscaled, noisy sample film
    # measured the same as the original (LANDMARK_MODEL_CARD.md)
    out = cv2.warpAffine(img, m, (SIDE, SIDE), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    if flip:
        out = out[:, ::-1]
        m = np.array([[-1, 0, SIDE - 1], [0, 1, 0]]) @ np.vstack([m, [0, 0, 1]])
    return np.ascontiguousarray(out), m[:2].astype(np.float32)


def body_crop(img: np.ndarray, points: np.ndarray, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """The crop around one body's six points (6, 2) (``CROP_SCALE`` x their larger extent)."""
    return crop(img, points.mean(axis=0), CROP_SCALE * float(np.ptp(points, axis=0).max()),
                flip)


def to_input(crops: np.ndarray) -> np.ndarray:
    """uint8 crops (N, SIDE, SIDE) -> the network's input (N, 1, SIDE, SIDE)."""
    return ((crops.astype(np.float32) / 255 - 0.5) / 0.25)[:, None]


class LandmarkModel:
    """Loads a landmark ONNX model (with its JSON beside it) once; places six points."""

    def __init__(self, path: str | Path, options: ort.SessionOptions | None = None):
        path = Path(path).with_suffix(".onnx")
        if not path.exists() or not path.with_suffix(".json").exists():
            raise MorphoError(path, "landmark model not found (needs .onnx and .json)")
        self.config = json.loads(path.with_suffix(".json").read_text())
        self.version = str(self.config.get("version", path.stem))
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])

    def place(self, film: np.ndarray, points: np.ndarray, facing: str
              ) -> tuple[np.ndarray, np.ndarray]:
        """New six points (N, 6, 2, film px) for bodies at ``points`` (N, 6, 2) on ``film``
        (uint8, CLAHE'd), anterior on the ``facing`` side, and each point's spread (N, 6,
        film px)."""
        if not len(points):
            return np.empty((0, 6, 2)), np.empty((0, 6))
        crops, maps = zip(*(body_crop(film, xy, facing == "right") for xy in points),
                          strict=True)
        x = to_input(np.stack(crops))
        uv, spread = (np.concatenate(parts) for parts in zip(*(
            self.session.run(None, {"crop": x[i:i + BATCH]}) for i in range(0, len(x), BATCH)),
            strict=True))
        out = np.empty((len(points), 6, 2))
        for k, m in enumerate(maps):
            back = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
            out[k] = (uv[k] * SIDE) @ back[:, :2].T + back[:, 2]
        scale = np.array([np.linalg.norm(m[0, :2]) for m in maps])  # crop px per film px
        return out, spread * SIDE / scale[:, None]
