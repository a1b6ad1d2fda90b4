"""From line integrals to a processed 16-bit radiograph: scatter, quantum noise, blur,
log-domain window, tone curve, CLAHE and collimation."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Exposure:
    photons: float = 3e4  # mean quanta per pixel without attenuation (noise level)
    scatter: float = 0.05  # scatter share (a very blurred copy of the patient's primary)
    blur_px: float = 0.8  # detector blur (Gaussian sigma, px)
    window: tuple[float, float] = (1.0, 99.7)  # percentiles of the log signal -> black, white
    gamma: float = 1.0
    clahe_clip: float = 2.0
    clahe_mix: float = 0.7  # 0 = no CLAHE, 1 = CLAHE only
    collimation: tuple[float, float, float, float] = (0, 0, 0, 0)  # top, bottom, left, right
    collimation_level: float = 0.9  # display value of the shuttered border

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Exposure:
        collimate = rng.random() < 0.4
        return cls(
            photons=float(np.exp(rng.uniform(np.log(3e3), np.log(2e5)))),
            scatter=float(rng.uniform(0.0, 0.15)),
            blur_px=float(rng.uniform(0.4, 1.4)),
            window=(float(rng.uniform(0.2, 4.0)), float(rng.uniform(99.0, 99.95))),
            gamma=float(rng.uniform(0.7, 1.4)),
            clahe_clip=float(rng.uniform(1.0, 3.5)),
            clahe_mix=float(rng.uniform(0.3, 1.0)),
            collimation=tuple(float(x) for x in rng.uniform(0, 0.08, 4) * collimate),
            collimation_level=float(rng.choice([rng.uniform(0.75, 1.0), rng.uniform(0, 0.1)])),
        )


def radiograph(line_integral: np.ndarray, exposure: Exposure, rng: np.random.Generator
               ) -> np.ndarray:
    """Detected, processed image (uint16, bone bright) from attenuation line integrals."""
    primary = np.exp(-np.clip(line_integral, 0, 30)).astype(np.float32)
    patient = np.where(line_integral > 0.05, primary, 0).astype(np.float32)
    small = cv2.resize(patient, None, fx=1 / 8, fy=1 / 8, interpolation=cv2.INTER_AREA)
    scatter = cv2.resize(cv2.GaussianBlur(small, (0, 0), 0.01 * max(primary.shape)),
                         primary.shape[::-1], interpolation=cv2.INTER_LINEAR)
    signal = primary + exposure.scatter * scatter
    quanta = signal * exposure.photons
    noisy = quanta + rng.standard_normal(quanta.shape).astype(np.float32) * np.sqrt(quanta)
    if exposure.blur_px > 0:
        noisy = cv2.GaussianBlur(noisy, (0, 0), exposure.blur_px)
    log = -np.log(np.clip(noisy, 0.5, None) / exposure.photons)
    exposed = log > np.percentile(log, 5) if log.std() > 0 else np.ones_like(log, bool)
    lo, hi = np.percentile(log[exposed], exposure.window)
    x = np.clip((log - lo) / max(hi - lo, 1e-6), 0, 1) ** exposure.gamma
    tiles = max(2, round(max(x.shape) / 64))
    clahe = cv2.createCLAHE(clipLimit=exposure.clahe_clip, tileGridSize=(tiles, tiles))
    eq = clahe.apply((x * 255).astype(np.uint8)).astype(np.float32) / 255
    x = (1 - exposure.clahe_mix) * x + exposure.clahe_mix * eq
    rows, cols = x.shape
    top, bottom, left, right = exposure.collimation
    shutter = np.ones_like(x, bool)
    r0, r1 = int(top * rows), rows - int(bottom * rows)
    c0, c1 = int(left * cols), cols - int(right * cols)
    shutter[r0:r1, c0:c1] = False
    if shutter.any():
        x[shutter] = exposure.collimation_level + 0.02 * rng.standard_normal(int(shutter.sum()))
    return (np.clip(x, 0, 1) * 65535).astype(np.uint16)
