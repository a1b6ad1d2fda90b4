"""Digitally reconstructed radiographs (DRR) from CT with body masks and 6-point truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial.transform import Rotation
from skimage.measure import block_reduce

from morpho.synth import DATASET_LEVELS, LEVEL_NAMES
from morpho.synth.ctvolume import CTVolume
from morpho.synth.detector import Exposure, radiograph
from morpho.synth.fractures import BodyCompression, Fracture, sample_fractures
from morpho.synth.geometry import Camera
from morpho.synth.output import Synthetic
from morpho.synth.projector import line_integral, project_labels
from morpho.synth.realism import Realism, bone_detail, disc_delta, soft_tissue, vendor_process
from morpho.synth.truth import (
    label_stats,
    six_point_heights,
    six_points_3d,
    truth_row,
    truth_table,
)

MU_WATER = 0.02  # linear attenuation of water per mm, about 70 keV


def attenuation(hu: np.ndarray, bone_boost: float = 1.0) -> np.ndarray:
    """Linear attenuation (per mm) from HU, with extra weight for bone above 150 HU
    (the photoelectric share that a water-scaled HU misses at diagnostic energies)."""
    mu = MU_WATER * np.clip(1 + hu / 1000, 0, None)
    return (mu * (1 + bone_boost * np.clip((hu - 150) / 1000, 0, None))).astype(np.float32)


class DRRSource:
    """A CT prepared for rendering: attenuation volume, spine centre, per-level 3-D truth."""

    def __init__(self, volume: CTVolume, bone_boost: float = 1.0, min_voxel_mm: float = 1.2,
                 detail: bool = True):
        self.volume = volume
        aff = volume.affine
        factors = np.maximum(1, np.round(min_voxel_mm / volume.spacing)).astype(int)
        self.mu = block_reduce(attenuation(volume.hu, bone_boost), tuple(factors), np.mean)
        shrink = np.diag([*factors, 1.0])
        shrink[:3, 3] = (factors - 1) / 2
        self.mu_affine = aff @ shrink  # coarser grid for the attenuation (speed)
        nz = np.argwhere(volume.body_labels > 0)
        self.label_bounds = (nz.min(axis=0) - 1.0, nz.max(axis=0) + 1.0)
        self.label_boxes = ndi.find_objects(volume.body_labels)  # per label k at k - 1
        self.label_values = [k for k, box in enumerate(self.label_boxes, 1) if box is not None]
        self.spine_centre = nz.mean(axis=0) @ aff[:3, :3].T + aff[:3, 3]
        corners = np.array([[0, 0, 0], np.array(volume.hu.shape) - 1], float)
        self.extent = np.abs(np.diff(corners @ aff[:3, :3].T, axis=0))[0]  # mm per RAS axis
        self.box_centre = corners.mean(axis=0) @ aff[:3, :3].T + aff[:3, 3]
        self.points3d = six_points_3d(volume.body_labels, aff, np.array([0, 1.0, 0]),
                                      np.array([0, 0, 1.0]))
        # cortical shells and disc space on a fine grid (realism; None: not prepared)
        self.detail = bone_detail(volume.body_labels, aff) if detail else None
        self.disc_delta = (disc_delta(self.detail, self.mu, self.mu_affine)
                           if self.detail is not None else None)


@dataclass(frozen=True)
class DRRParams:
    """Geometry and exposure of one DRR."""

    size: tuple[int, int] = (512, 512)
    fov_mm: float = 340.0  # field of view at the isocentre (rows)
    view: str = "lateral"
    facing: str = "left"
    cone: bool = True
    sid_mm: float = 1800.0
    magnification: float = 1.1  # at the isocentre
    angles_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)  # about x (LR), y (AP), z (SI)
    offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)  # isocentre shift from the framing
    exposure: Exposure = field(default_factory=Exposure)
    fractures: dict[str, Fracture] = field(default_factory=dict)
    realism: Realism = field(default_factory=Realism)  # Realism(): the plain DRR

    @classmethod
    def sample(cls, rng: np.random.Generator, source: DRRSource, size: tuple[int, int],
               view: str = "lateral", left_share: float = 0.8, fracture_rate: float = 0.0,
               realism: bool = True) -> DRRParams:
        """Random pose, framing, geometry, exposure (facing left with ``left_share``),
        fractures (each level of T4-L5 with ``fracture_rate``) and realism settings (drawn
        from a child of ``rng``, so the rest is the same with ``realism`` on or off)."""
        extra = Realism.sample(rng.spawn(1)[0]) if realism else Realism()
        beam_axis = 0 if view == "lateral" else 1  # RAS axis the rays run along
        extent = np.delete(source.extent, beam_axis)
        fov = min(rng.uniform(300, 400), 1.05 * extent.max())
        return cls(
            size=size, fov_mm=float(fov), view=view,
            facing="left" if rng.random() < left_share else "right",
            cone=bool(rng.random() < 0.85),
            sid_mm=float(rng.uniform(1500, 1830)),
            magnification=float(rng.uniform(1.05, 1.25)),
            angles_deg=tuple(float(a) for a in rng.uniform(-1, 1, 3) * (6, 4, 6)),
            offset_mm=tuple(float(a) for a in rng.normal(0, 15, 3)
                            * (np.arange(3) != beam_axis)),
            exposure=Exposure.sample(rng),
            fractures=sample_fractures(
                [LEVEL_NAMES[k - 1] for k in source.label_values
                 if LEVEL_NAMES[k - 1] in DATASET_LEVELS], fracture_rate, rng)
            if fracture_rate > 0 else {},
            realism=extra,
        )


def _framing(source: DRRSource, params: DRRParams) -> np.ndarray:
    """Isocentre: the volume's centre in depth and across, the spine's height."""
    centre = source.box_centre.copy()
    centre[2] = source.spine_centre[2]
    if params.view == "lateral":
        centre[0] = source.spine_centre[0]
    else:
        centre[1] = source.spine_centre[1]
    return centre + np.asarray(params.offset_mm)


def separate_instances(labels: np.ndarray, gap_px: int = 1) -> np.ndarray:
    """Clear pixels within ``gap_px`` of a different label, so touching bodies come apart."""
    size = 2 * gap_px + 1
    hi = ndi.maximum_filter(labels, size)
    lo = ndi.minimum_filter(np.where(labels > 0, labels, 255).astype(np.uint8), size)
    clash = (labels > 0) & ((hi != labels) | (lo != labels))
    return np.where(clash, 0, labels).astype(np.uint8)


def render_drr(source: DRRSource, params: DRRParams, rng: np.random.Generator) -> Synthetic:
    """Render one DRR with its instance labels (T1-L5 bodies) and 6-point truth."""
    rows, cols = params.size
    mag = params.magnification if params.cone else 1.0
    pixel_mm = params.fov_mm * mag / rows
    camera = Camera((rows, cols), pixel_mm, params.sid_mm, params.sid_mm / mag,
                    params.cone, params.view, params.facing)
    rotation = Rotation.from_euler("xyz", params.angles_deg, degrees=True).as_matrix()
    centre = _framing(source, params)
    vol = source.volume
    real = params.realism
    bone = real.cortex > 0 or real.disc > 0
    extra = (source.detail.volume(source.disc_delta, real.cortex, real.disc)
             if bone and source.detail is not None else None)
    mu, body_labels, points3d, extra = _fractured(source, params.fractures, extra)
    li = line_integral(mu, source.mu_affine, rotation, centre, camera)
    if extra is not None:
        li += line_integral(extra, source.detail.affine, rotation, centre, camera)
    if real.arms and params.view == "lateral":
        li += _arms(source, params, camera, rotation, centre)
    raw = project_labels(body_labels, vol.affine, rotation, centre, camera,
                         present=source.label_values, bounds=source.label_bounds)
    keep = {LEVEL_NAMES.index(n) + 1: i + 1 for i, n in enumerate(DATASET_LEVELS)}
    lut = np.zeros(256, np.uint8)
    for k, v in keep.items():
        lut[k] = v
    labels = separate_instances(lut[raw])
    rows_out = []
    stats = label_stats(labels)
    for k, pts in points3d.items():
        if k not in keep or keep[k] not in stats:
            continue
        detector = camera.project((pts - centre) @ rotation.T)
        frac = params.fractures.get(LEVEL_NAMES[k - 1])
        rows_out.append(truth_row("", LEVEL_NAMES[k - 1], detector, pixel_mm, stats[keep[k]],
                                  labels.shape, frac.as_dict() if frac else None,
                                  whole=not source.points3d[k].cut))
    image = radiograph(li, params.exposure, rng)
    if real != Realism():
        image = (vendor_process(image / 65535.0, real) * 65535).astype(np.uint16)
    return Synthetic(
        image=image, labels=labels,
        truth=truth_table(rows_out), pixel_mm=pixel_mm, magnification=camera.magnification,
        view=params.view, facing=params.facing, source=vol.name,
        fractures={k: v.as_dict() for k, v in params.fractures.items()},
    )


def _arms(source: DRRSource, params: DRRParams, camera: Camera, rotation: np.ndarray,
          centre: np.ndarray) -> np.ndarray:
    """Line integrals of the arms and shoulders near the highest thoracic body."""
    first = LEVEL_NAMES.index("T1") + 1
    upper = sorted(k for k in source.points3d if first <= k < first + 6)
    if not upper:
        return np.zeros(camera.shape, np.float32)
    top = source.points3d[upper[0]].points.mean(axis=0)
    front = top + np.array([0, 50.0, 0])
    cols_rows = camera.project((np.stack([top, front]) - centre) @ rotation.T)
    anterior = 1.0 if cols_rows[1, 0] > cols_rows[0, 0] else -1.0
    return soft_tissue(camera.shape, camera.shape[0] / params.fov_mm, cols_rows[0], anterior,
                       params.realism.arms)


def _fractured(source: DRRSource, fractures: dict[str, Fracture],
               extra: np.ndarray | None = None):
    """Attenuation, body labels, 3-D six points and the fine bone detail (``extra``) with
    the fractured bodies compressed."""
    mu, labels = source.mu, source.volume.body_labels
    points = {k: f.points for k, f in source.points3d.items()}
    for level, fracture in fractures.items():
        k = LEVEL_NAMES.index(level) + 1
        if k not in source.points3d:
            continue
        near = [six_point_heights(source.points3d[j].points)[2] for j in (k - 1, k + 1)
                if j in source.points3d]
        comp = BodyCompression(fracture, source.points3d[k], labels, source.volume.affine, k,
                               source.label_boxes[k - 1], np.mean(near) if near else None)
        mu = comp.apply(mu, source.mu_affine, MU_WATER * 1.04, order=1)
        labels = comp.apply(labels, source.volume.affine, 0, order=0)
        if extra is not None:
            extra = comp.apply(extra, source.detail.affine, 0.0, order=1)
        points[k] = comp.forward(points[k])
    return mu, labels, points, extra
