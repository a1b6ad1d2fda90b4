"""Steps that make DRRs look more like real lateral chest films.

- ``bone_detail``: from the vertebral body label maps, a cortical shell on each body (a thin
  layer inside its surface) and the disc space between bodies, on a grid finer than the CT's
  slices, so endplates project as sharp lines instead of the bands a 2.5 mm CT gives.
  Both lie inside (shell) or outside (disc) the labels, so masks and truth do not change.
- ``soft_tissue``: arms and shoulders over the upper thoracic spine (water-like blobs with a
  humerus), added to the line integrals.
- ``vendor_process``: a monitor LUT, unsharp masking or equalisation, faint anti-scatter grid
  lines, a burned-in marker letter or text box and tilted collimation edges.

Every random choice is drawn once into ``Realism`` (``Realism.sample``), so an image is a
deterministic function of its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

MU_DISC = 0.02 * 1.07  # disc / soft tissue, per mm (about 70 HU)
MU_CORTEX = 0.018  # extra attenuation of the cortical shell over the trabecular bone, per mm
MU_HUMERUS = 0.03  # extra attenuation of a humerus over soft tissue, per mm


@dataclass(frozen=True)
class BoneDetail:
    """Fine-grid volumes over the spine's box: cortical shell fraction and disc mask."""

    shell: np.ndarray  # float32 0/1
    disc: np.ndarray  # bool
    affine: np.ndarray  # fine voxel -> mm

    def volume(self, mu_disc_delta: np.ndarray, cortex: float, disc: float) -> np.ndarray:
        """Extra attenuation (per mm): ``cortex`` per mm in the shell, the disc space moved
        ``disc`` of the way from the CT's smeared values to soft tissue."""
        return (cortex * self.shell + disc * mu_disc_delta).astype(np.float32)


def _fine_grid(shape: tuple[int, ...], spacing: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               step_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Integer upsampling per axis and the fine index -> CT voxel map (4x4)."""
    up = np.maximum(1, np.ceil(spacing / step_mm - 0.2)).astype(int)
    to_ct = np.diag([*(1.0 / up), 1.0])
    to_ct[:3, 3] = lo + 0.5 / up - 0.5
    return up, to_ct


def bone_detail(labels: np.ndarray, affine: np.ndarray, step_mm: float = 0.9,
                shell_mm: float = 1.0, disc_mm: float = 16.0, margin: int = 3) -> BoneDetail:
    """Cortical shells and disc space of the labelled bodies on a grid of about ``step_mm``.

    Each body's mask is upsampled linearly (smooth surfaces instead of slice steps); its
    shell is the part within ``shell_mm`` of its surface; the disc space is what a closing
    along the superior axis of ``disc_mm`` adds to the union of the bodies.
    """
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    nz = np.argwhere(labels > 0)
    lo = np.maximum(nz.min(axis=0) - margin, 0)
    hi = np.minimum(nz.max(axis=0) + margin + 1, labels.shape)
    up, to_ct = _fine_grid(labels.shape, spacing, lo, hi, step_mm)
    box = labels[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))]
    fine_shape = tuple((hi - lo) * up)
    union = np.zeros(fine_shape, bool)
    shell = np.zeros(fine_shape, np.float32)
    fine_spacing = spacing / up
    for k, obj in enumerate(ndi.find_objects(box), 1):
        if obj is None:
            continue
        sub = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n))
                    for s, n in zip(obj, box.shape, strict=True))
        mask = ndi.zoom((box[sub] == k).astype(np.float32), up, order=1, grid_mode=True,
                        mode="grid-constant") > 0.5
        fine_sub = tuple(slice(s.start * u, s.start * u + m)
                         for s, u, m in zip(sub, up, mask.shape, strict=True))
        depth = ndi.distance_transform_edt(np.pad(mask, 1), sampling=fine_spacing)[1:-1, 1:-1,
                                                                                   1:-1]
        shell[fine_sub] = np.maximum(shell[fine_sub], (mask & (depth <= shell_mm)))
        union[fine_sub] |= mask
    length = max(3, int(round(disc_mm / fine_spacing[2])) | 1)
    closed = ndi.binary_closing(union, structure=np.ones((1, 1, length), bool))
    disc = closed & ~union
    return BoneDetail(shell, disc, affine @ to_ct)


def sample_volume(volume: np.ndarray, affine: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """Trilinear samples of ``volume`` at world points (N, 3)."""
    inv = np.linalg.inv(affine)
    idx = points_mm @ inv[:3, :3].T + inv[:3, 3]
    return ndi.map_coordinates(volume, idx.T, order=1, mode="nearest")


def disc_delta(detail: BoneDetail, mu: np.ndarray, mu_affine: np.ndarray) -> np.ndarray:
    """Per fine voxel: soft tissue minus the CT's attenuation in the disc space (<= 0)."""
    out = np.zeros(detail.disc.shape, np.float32)
    idx = np.argwhere(detail.disc)
    if len(idx):
        pts = idx @ detail.affine[:3, :3].T + detail.affine[:3, 3]
        out[detail.disc] = np.minimum(MU_DISC - sample_volume(mu, mu_affine, pts), 0)
    return out


@dataclass(frozen=True)
class Realism:
    """Per-image realism settings (drawn by ``sample``; ``Realism()`` changes nothing)."""

    cortex: float = 0.0  # extra attenuation of the cortical shell, per mm
    disc: float = 0.0  # 0..1: how far the disc space moves to soft tissue
    arms: tuple[tuple[float, ...], ...] = ()  # (dx, dy, half-length, half-width, angle, mm)
    lut: tuple[str, float, float] = ("none", 0.0, 0.0)
    unsharp: tuple[float, float] = (0.0, 0.0)  # amount, sigma (fraction of the image side)
    equalise: float = 0.0  # share of a global histogram equalisation
    grid: tuple[float, float, float, int] = (0.0, 3.0, 0.0, 1)  # amplitude, period px, phase, axis
    # text, x, y, scale, value
    marker: tuple[str, float, float, float, float] = ("", 0.0, 0.0, 0.0, 1.0)
    textbox: tuple[str, float, float, float] = ("", 0.0, 0.0, 0.0)  # text, x, y, value
    edges: tuple[tuple[float, float, float], ...] = ()  # (side 0-3, depth share, tilt deg)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Realism:
        """Random settings; each step on with its own probability."""
        arms = tuple(
            (float(rng.uniform(0.0, 0.2)), float(rng.uniform(-0.1, 0.12)),
             float(rng.uniform(0.2, 0.35)), float(rng.uniform(0.06, 0.1)),
             float(rng.uniform(-60, -20)), float(rng.uniform(40, 110)))
            for _ in range(int(rng.choice([0, 1, 2], p=[0.3, 0.2, 0.5]))))
        kind = str(rng.choice(["none", "sigmoid", "log", "power"], p=[0.2, 0.35, 0.25, 0.2]))
        lut = (kind, float(rng.uniform(0.35, 0.65)), float(rng.uniform(3, 9)))
        unsharp = ((float(rng.uniform(0.3, 1.5)), float(rng.uniform(0.005, 0.05)))
                   if rng.random() < 0.7 else (0.0, 0.0))
        grid = ((float(rng.uniform(0.003, 0.012)), float(rng.uniform(2.1, 5.0)),
                 float(rng.uniform(0, 2 * np.pi)), int(rng.random() < 0.7))
                if rng.random() < 0.5 else (0.0, 3.0, 0.0, 1))
        corner = rng.integers(0, 4)
        marker = ((str(rng.choice(["L", "R", "LAT", "L LAT", "SIN", "DEX"])),
                   float(0.04 + 0.8 * (corner % 2) + rng.uniform(0, 0.08)),
                   float(0.1 + 0.8 * (corner // 2) + rng.uniform(0, 0.05)),
                   float(rng.uniform(0.6, 1.6)), float(rng.choice([1.0, 0.0], p=[0.85, 0.15])))
                  if rng.random() < 0.75 else ("", 0.0, 0.0, 0.0, 1.0))
        textbox = (("  ".join(rng.choice(["ERECT", "PORTABLE", "SUPINE", "AP", "110 CM",
                                          "85 kVp", "12.5 mAs", "2026-03-14", "ID 48213"],
                                         size=2, replace=False)),
                    float(rng.uniform(0.02, 0.4)), float(rng.choice([0.04, 0.94])),
                    float(rng.choice([1.0, 0.0])))
                   if rng.random() < 0.4 else ("", 0.0, 0.0, 0.0))
        edges = tuple((float(side), float(rng.uniform(0.01, 0.07)), float(rng.uniform(-3, 3)))
                      for side in range(4) if rng.random() < 0.25)
        return cls(
            cortex=float(rng.uniform(0.5, 1.5) * MU_CORTEX) if rng.random() < 0.9 else 0.0,
            disc=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.9 else 0.0,
            arms=arms, lut=lut, unsharp=unsharp,
            equalise=float(rng.uniform(0.2, 0.6)) if rng.random() < 0.2 else 0.0,
            grid=grid, marker=marker, textbox=textbox, edges=edges,
        )


def soft_tissue(shape: tuple[int, int], px_per_mm: float, spine_top: np.ndarray,
                anterior: float, arms: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """Line integrals (per pixel) of arms and shoulders: ellipsoidal water blobs, each with
    a humerus along its long axis, near the top of the spine (``spine_top``, col/row px),
    shifted towards the front (``anterior`` = +1 if anterior is to the right, else -1)."""
    out = np.zeros(shape, np.float32)
    if not arms:
        return out
    side = max(shape)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    for dx, dy, half_len, half_wid, angle, thick_mm in arms:
        cx = spine_top[0] + anterior * dx * side
        cy = spine_top[1] + dy * side
        a = np.deg2rad(angle) * anterior
        u = ((cols - cx) * np.cos(a) + (rows - cy) * np.sin(a)) / (half_len * side)
        v = (-(cols - cx) * np.sin(a) + (rows - cy) * np.cos(a)) / (half_wid * side)
        r2 = u ** 2 + v ** 2
        out += 0.02 * thick_mm * np.sqrt(np.clip(1 - r2, 0, None))
        bone = (v * half_wid * side / (0.22 * half_wid * side)) ** 2 + u ** 2
        out += MU_HUMERUS * 0.22 * half_wid * side / px_per_mm * np.sqrt(
            np.clip(1 - bone, 0, None))
    return out


def _lut(x: np.ndarray, kind: str, centre: float, slope: float) -> np.ndarray:
    if kind == "sigmoid":
        lo, hi = (1 / (1 + np.exp(-slope * (v - centre))) for v in (0.0, 1.0))
        return (1 / (1 + np.exp(-slope * (x - centre))) - lo) / (hi - lo)
    if kind == "log":
        return np.log1p(slope * x) / np.log1p(slope)
    if kind == "power":
        return x ** (0.5 + centre)
    return x


def _put_text(x: np.ndarray, text: str, at: tuple[float, float], scale: float, value: float,
              box: bool) -> None:
    """Burn ``text`` (display ``value``) into ``x`` in place, on a box of 1 - value."""
    side = max(x.shape)
    size = scale * side / 512
    thick = max(1, int(round(2 * size)))
    org = (int(at[0] * x.shape[1]), int(at[1] * x.shape[0]))
    if box:
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        cv2.rectangle(x, (org[0] - 3, org[1] - h - 3), (org[0] + w + 3, org[1] + base + 2),
                      1.0 - value, -1)
    ink = np.zeros(x.shape, np.uint8)
    cv2.putText(ink, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, 255, thick, cv2.LINE_AA)
    alpha = ink.astype(np.float32) / 255
    x[:] = x * (1 - alpha) + value * alpha


def _edges(x: np.ndarray, edges: tuple[tuple[float, float, float], ...]) -> None:
    rows, cols = np.mgrid[0:x.shape[0], 0:x.shape[1]].astype(np.float32)
    for side, depth, tilt in edges:
        t = np.tan(np.deg2rad(tilt))
        if side == 0:
            dist = rows - depth * x.shape[0] - t * (cols - x.shape[1] / 2)
        elif side == 1:
            dist = (x.shape[0] - 1 - rows) - depth * x.shape[0] - t * (cols - x.shape[1] / 2)
        elif side == 2:
            dist = cols - depth * x.shape[1] - t * (rows - x.shape[0] / 2)
        else:
            dist = (x.shape[1] - 1 - cols) - depth * x.shape[1] - t * (rows - x.shape[0] / 2)
        w = np.clip(0.5 - dist / 2.0, 0, 1)  # about 2 px of penumbra
        x[:] = x * (1 - w) + 0.92 * w


def vendor_process(x: np.ndarray, realism: Realism) -> np.ndarray:
    """Display processing of a [0, 1] image (bone bright): LUT, unsharp masking or
    equalisation, grid lines, collimation edges, burned-in marker and text (float32)."""
    x = _lut(np.clip(x, 0, 1).astype(np.float32), *realism.lut).astype(np.float32)
    amount, sigma = realism.unsharp
    if amount > 0:
        blur = cv2.GaussianBlur(x, (0, 0), max(sigma * max(x.shape), 0.5))
        x = np.clip(x + amount * (x - blur), 0, 1)
    if realism.equalise > 0:
        eq = cv2.equalizeHist((x * 255).astype(np.uint8)).astype(np.float32) / 255
        x = (1 - realism.equalise) * x + realism.equalise * eq
    amp, period, phase, axis = realism.grid
    if amp > 0:
        pos = np.arange(x.shape[1 if axis else 0], dtype=np.float32)
        wave = amp * np.sin(2 * np.pi * pos / period + phase)
        x = x + (wave[None, :] if axis else wave[:, None])
    x = np.ascontiguousarray(np.clip(x, 0, 1), np.float32)
    _edges(x, realism.edges)
    text, mx, my, scale, value = realism.marker
    if text:
        _put_text(x, text, (mx, my), scale, value, box=False)
    text, tx, ty, value = realism.textbox
    if text:
        _put_text(x, text, (tx, ty), 0.45, value, box=True)
    return x


EXPORT_SIDE = 320  # short side (px) of a film as public research exports often ship it
EXPORT_QUALITY = 85  # their JPEG quality


def jpeg_export(pixels: np.ndarray, labels: np.ndarray, short_side: int = EXPORT_SIDE,
                quality: int = EXPORT_QUALITY) -> tuple[np.ndarray, np.ndarray]:
    """A film as a public research export ships it: reduced to ``short_side`` px on its
    short side (area), windowed to its 0.5-99.5th percentiles, stored as an 8-bit JPEG of
    ``quality`` and decoded again (uint8); with ``labels`` (a mask or instance labels)
    reduced to the same size (nearest)."""
    f = short_side / min(pixels.shape)
    size = (round(pixels.shape[1] * f), round(pixels.shape[0] * f))
    lo, hi = np.percentile(pixels, [0.5, 99.5])
    small = cv2.resize(pixels.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    grey = np.clip((small - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE), cv2.resize(
        labels, size, interpolation=cv2.INTER_NEAREST)
