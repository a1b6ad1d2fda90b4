"""Anatomical variety from one CT: its spine made taller or shorter, unevenly, bent
front to back, and its bodies less dense (osteopenia), before any projection.

A chest CT set holds one anatomy. Training on its renders alone teaches the network that
anatomy's proportions. ``deform_ct`` warps the HU volume and the body labels together, so
masks and the six-point truth (computed from the labels) follow the bone."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from morpho.synth.ctvolume import CTVolume

SOFT_HU = 40.0  # the body's bone contrast is scaled towards this


@dataclass(frozen=True)
class Anatomy:
    """How one variant differs from its CT."""

    stretch: float  # cranio-caudal scale of the spine (bodies and discs taller or shorter)
    wave: float  # relative amplitude of a slow change of that scale along the spine
    phase: float  # of the wave, radians
    bend_mm: float  # anterior shift of the spine's ends against its middle (+: more kyphotic)
    density: float  # the bodies' bone contrast over soft tissue (below 1: osteopenic)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Anatomy:
        return cls(stretch=float(rng.uniform(0.9, 1.12)), wave=float(rng.uniform(0.0, 0.12)),
                   phase=float(rng.uniform(0.0, 2 * np.pi)),
                   bend_mm=float(rng.uniform(-12.0, 12.0)),
                   density=float(rng.uniform(0.6, 1.0)))  # fmt: skip

    @classmethod
    def variant(cls, seed: int, name: str, k: int) -> Anatomy | None:
        """Variant ``k`` of the CT called ``name`` (None for k = 0: the CT as it is);
        depends only on (seed, name, k)."""
        if k == 0:
            return None
        return cls.sample(np.random.default_rng([seed, zlib.crc32(name.encode()), k]))


def _source_slices(labels: np.ndarray, anatomy: Anatomy) -> tuple[np.ndarray, np.ndarray]:
    """For each output slice (axis 2, superior): the source slice it samples (fractional)
    and its position along the labelled span (-0.5 to 0.5); the spine's centre stays."""
    n = labels.shape[2]
    zs = np.flatnonzero(labels.any(axis=(0, 1)))
    centre = 0.5 * (zs.min() + zs.max()) if zs.size else 0.5 * (n - 1)
    span = float(max(zs.max() - zs.min(), 1)) if zs.size else float(n)
    z = np.arange(n, dtype=float)
    u = (z - centre) / span
    scale = anatomy.stretch * (1 + anatomy.wave * np.sin(3 * np.pi * u + anatomy.phase))
    inverse = 1.0 / scale  # source slices per output slice
    steps = np.concatenate([[0.0], 0.5 * (inverse[1:] + inverse[:-1])])
    source = np.cumsum(steps)
    at = int(np.clip(round(centre), 0, n - 1))  # this slice stays where it is
    return source - source[at] + at, u


def deform_ct(volume: CTVolume, anatomy: Anatomy | None) -> CTVolume:
    """``volume`` with its spine stretched, bent and thinned as ``anatomy`` says (the same
    volume for None). The volume keeps its grid and affine; what moves past its ends is
    lost, what comes in is air."""
    if anatomy is None:
        return volume
    hu, labels = volume.hu, volume.body_labels
    source, u = _source_slices(labels, anatomy)
    shift = anatomy.bend_mm * (2 * np.clip(u, -0.75, 0.75)) ** 2 / volume.spacing[1]
    out_hu = np.full_like(hu, -1000.0)
    out_labels = np.zeros_like(labels)
    last = hu.shape[2] - 1
    for z, (s, d) in enumerate(zip(source, shift, strict=True)):
        if s < 0 or s > last:
            continue
        z0 = min(int(np.floor(s)), last - 1) if last else 0
        w = s - z0
        plane = (1 - w) * hu[:, :, z0] + w * hu[:, :, min(z0 + 1, last)]
        out_hu[:, :, z] = ndi.shift(plane, (0, d), order=1, mode="constant", cval=-1000.0)
        nearest = labels[:, :, int(round(s))]
        out_labels[:, :, z] = ndi.shift(nearest, (0, round(d)), order=0, mode="constant")
    bone = out_labels > 0
    out_hu[bone] = SOFT_HU + (out_hu[bone] - SOFT_HU) * anatomy.density
    return CTVolume(volume.name, out_hu, out_labels, volume.affine)
