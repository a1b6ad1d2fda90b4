"""Parametric 2-D lateral thoracolumbar radiograph with exact body outlines and heights.

Bodies are rounded quadrilaterals whose endplates pass exactly through the stated anterior,
middle and posterior heights, sized per level after published proportions (Panjabi et al.
1991, 1992), stacked with discs on a kyphosis/lordosis curve, under ribs, lungs, heart,
diaphragm, shoulders and soft tissue; then the same detector model as the DRRs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.draw import polygon

from morpho.synth import DATASET_LEVELS
from morpho.synth.detector import Exposure, radiograph
from morpho.synth.fractures import Fracture, sample_fractures
from morpho.synth.output import Synthetic
from morpho.synth.truth import COLUMN_FRACTIONS, label_stats, truth_row, truth_table

CONTEXT_LEVELS = ("C5", "C6", "C7")  # drawn above T1, never masked
# Per level: anterior height, posterior height, sagittal depth, disc below (mm).
ANATOMY = {
    "C5": (12.5, 12.5, 15.5, 4.5), "C6": (12.5, 12.5, 16.0, 4.5), "C7": (13.5, 14.0, 16.0, 4.0),
    "T1": (14.5, 15.5, 16.0, 3.5), "T2": (16.0, 17.0, 17.0, 3.5), "T3": (16.5, 17.5, 18.0, 4.0),
    "T4": (17.0, 18.0, 19.5, 4.0), "T5": (17.5, 18.5, 21.0, 4.5), "T6": (18.0, 19.0, 22.5, 4.5),
    "T7": (18.5, 19.5, 24.0, 5.0), "T8": (19.0, 20.5, 25.5, 5.0), "T9": (19.5, 21.0, 27.0, 5.0),
    "T10": (20.5, 22.0, 28.5, 5.5), "T11": (21.5, 23.0, 29.5, 6.0), "T12": (23.0, 24.5, 31.0, 7.0),
    "L1": (25.0, 26.5, 33.0, 8.0), "L2": (26.0, 27.0, 34.0, 9.0), "L3": (27.0, 27.0, 35.0, 10.0),
    "L4": (27.0, 26.0, 35.5, 11.0), "L5": (27.5, 24.5, 35.5, 11.0),
}
ALL_LEVELS = (*CONTEXT_LEVELS, *DATASET_LEVELS)


@dataclass(frozen=True)
class PhantomParams:
    """Anatomy, framing and image quality of one phantom."""

    size: tuple[int, int] = (512, 512)
    pixel_mm: float = 0.75
    scale: float = 1.0  # body size (stature)
    kyphosis_deg: float = 40.0
    lordosis_deg: float = 45.0
    lean_deg: float = 0.0
    top_level: str = "C7"  # the level at the top of the image
    spine_x: float = 0.68  # posterior wall of the bodies, fraction of the width
    facing: str = "left"
    concavity: float = 0.04  # normal endplate concavity (fraction of the height)
    shoulders: float = 1.0  # soft tissue over the upper thoracic levels (obscures them)
    lung_air: float = 1.0
    bone_density: float = 1.0
    axis_aligned: bool = False  # no curve, no lean (for tests)
    fractures: dict[str, Fracture] = field(default_factory=dict)
    exposure: Exposure = field(default_factory=Exposure)
    texture_seed: int = 0

    @classmethod
    def sample(cls, rng: np.random.Generator, size: tuple[int, int] = (512, 512),
               fracture_rate: float = 0.0, left_share: float = 0.8) -> PhantomParams:
        return cls(
            size=size, pixel_mm=float(rng.uniform(0.6, 0.95)), scale=float(rng.uniform(0.85, 1.12)),
            kyphosis_deg=float(rng.uniform(20, 65)), lordosis_deg=float(rng.uniform(25, 60)),
            lean_deg=float(rng.normal(0, 4)),
            top_level=str(rng.choice(["C5", "C6", "C7", "T1", "T2"])),
            spine_x=float(rng.uniform(0.6, 0.78)),
            facing="left" if rng.random() < left_share else "right",
            concavity=float(rng.uniform(0.0, 0.05)), shoulders=float(rng.uniform(0.2, 2.5)),
            lung_air=float(rng.uniform(0.5, 1.0)), bone_density=float(rng.uniform(0.45, 1.2)),
            fractures=sample_fractures(DATASET_LEVELS, fracture_rate, rng),
            exposure=Exposure.sample(rng), texture_seed=int(rng.integers(2**31)),
        )


@dataclass
class _Body:
    level: str
    outline: np.ndarray  # (n, 2) pixel (x, y)
    points: np.ndarray  # (6, 2) ant_sup, mid_sup, post_sup, ant_inf, mid_inf, post_inf
    centre: np.ndarray
    axes: tuple[np.ndarray, np.ndarray]  # unit vectors: posterior (u), caudal (v)
    depth: float  # px


def _height_profile(u: np.ndarray, depth: float, heights: tuple[float, float, float]
                    ) -> np.ndarray:
    """Quadratic height through the anterior, middle and posterior column heights."""
    cols = np.array([(f - 0.5) * depth for f in COLUMN_FRACTIONS])
    return np.polyval(np.polyfit(cols, heights, 2), u)


def _adjacent(level: str) -> list[str]:
    """The levels just above and below ``level`` in the phantom."""
    i = ALL_LEVELS.index(level)
    return [ALL_LEVELS[j] for j in (i - 1, i + 1) if 0 <= j < len(ALL_LEVELS)]


def _layout(p: PhantomParams) -> list[_Body]:
    """Bodies along the curve, in pixels (anterior towards -x)."""
    rows, cols = p.size
    mm = p.scale / p.pixel_mm
    n_thor, n_lumb = 12, 5
    tilt = np.deg2rad(p.lean_deg)
    bodies: list[_Body] = []
    angle = tilt
    if not p.axis_aligned:
        angle += np.deg2rad(p.kyphosis_deg) * 0.5
    position = np.array([0.0, 0.0])
    for level in ALL_LEVELS:
        ha, hp, depth, disc = ANATOMY[level]
        if not p.axis_aligned:
            if level.startswith("T"):
                angle -= np.deg2rad(p.kyphosis_deg) / n_thor
            elif level.startswith("L"):
                angle += np.deg2rad(p.lordosis_deg) / n_lumb
        down = np.array([np.sin(angle), np.cos(angle)])
        post = np.array([np.cos(angle), -np.sin(angle)])
        concave = p.concavity * (ha + hp) / 2
        hm = (ha + hp) / 2 - 2 * concave
        heights = np.array([ha, hm, hp])
        frac = p.fractures.get(level)
        if frac is not None:
            near = [ANATOMY[n][1] for n in _adjacent(level)]
            heights = heights * np.array(frac.column_scale(heights, np.mean(near)))
        heights_px, depth_px = heights * mm, depth * mm
        mean_h = heights_px.mean()
        centre = position + down * mean_h / 2
        u = np.linspace(-depth_px / 2, depth_px / 2, 24)
        h = _height_profile(u, depth_px, tuple(heights_px))
        top = centre + u[:, None] * post - (h / 2)[:, None] * down
        bottom = centre + u[:, None] * post + (h / 2)[:, None] * down
        outline = np.vstack([top, bottom[::-1]])
        cu = np.array([(f - 0.5) * depth_px for f in COLUMN_FRACTIONS])
        ch = _height_profile(cu, depth_px, tuple(heights_px))
        sup = centre + cu[:, None] * post - (ch / 2)[:, None] * down
        inf = centre + cu[:, None] * post + (ch / 2)[:, None] * down
        bodies.append(_Body(level, outline, np.vstack([sup, inf]), centre, (post, down),
                            depth_px))
        position = position + down * (mean_h + disc * mm)
    # frame: the top level near the top edge, the posterior walls at spine_x
    top_body = next(b for b in bodies if b.level == p.top_level)
    anchor = top_body.centre - top_body.axes[0] * top_body.depth / 2
    shift = np.array([p.spine_x * cols, 0.06 * rows]) - anchor
    mid_x = np.mean([b.centre[0] + b.depth / 2 for b in bodies])
    shift[0] = p.spine_x * cols - mid_x
    for b in bodies:
        b.outline += shift
        b.points += shift
        b.centre += shift
    return bodies


def _smooth_ellipse(shape, centre, axes, angle=0.0, blur=15.0) -> np.ndarray:
    canvas = np.zeros(shape, np.float32)
    cv2.ellipse(canvas, (int(centre[0]), int(centre[1])), (int(axes[0]), int(axes[1])),
                angle, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(canvas, (0, 0), blur)


def _texture(shape, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noise = rng.standard_normal(shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    return noise / (noise.std() + 1e-6)


def _anatomy(p: PhantomParams, bodies: list[_Body], rng: np.random.Generator) -> np.ndarray:
    """Attenuation line integrals of the soft tissue, lungs and heart (anterior towards -x),
    computed at a quarter of the resolution (they are smooth) and scaled up."""
    full = p.size
    k = 4
    rows, cols = full[0] // k, full[1] // k
    shape = (rows, cols)
    mm = p.scale / p.pixel_mm / k
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    spine_back = np.mean([b.centre[0] + b.depth / 2 for b in bodies]) / k
    back = spine_back + rng.uniform(80, 110) * mm  # skin of the back
    front = spine_back - rng.uniform(200, 260) * mm  # anterior chest wall
    half = (back - front) / 2
    mid = (back + front) / 2
    neck = 1 - 0.35 * np.clip(1 - yy / (0.12 * rows), 0, 1)
    thick = np.sqrt(np.clip(1 - ((xx - mid) / (half * neck)) ** 2, 0, 1))
    li = 4.5 * thick
    # diaphragm dome: lungs above it (lower behind the spine: posterior sulcus)
    t12 = next(b for b in bodies if b.level == "T11").centre[1] / k
    top_x = front + rng.uniform(0.3, 0.5) * (back - front)
    dome = t12 - rng.uniform(10, 40) * mm + 70 * mm * ((xx - top_x) / half) ** 2
    apex = bodies[ALL_LEVELS.index("T1")].centre[1] / k - 20 * mm
    # lateral lung field: a rounded apex, a retrosternal curve, the back ribs, the domes
    left, right = front + 18 * mm, back - 25 * mm
    cx, ax = (left + right) / 2, (right - left) / 2
    ay = rng.uniform(1.1, 1.5) * (dome.min() - apex)
    lung = (((xx - cx) / ax) ** 2 + ((yy - apex - ay) / ay) ** 2 < 1) & (yy < dome)
    lung = cv2.GaussianBlur(lung.astype(np.float32), (0, 0), 8 * mm)
    lung *= 1 + 0.04 * _texture(shape, rng, 1.5)
    li -= 2.6 * p.lung_air * lung * thick
    heart_c = (front + 0.35 * (back - front), dome.min() - 40 * mm)
    li += 1.4 * _smooth_ellipse(shape, heart_c, (55 * mm, 65 * mm), 30, 10 * mm)
    trachea = np.zeros(shape, np.float32)
    t4 = bodies[ALL_LEVELS.index("T4")].centre / k
    cv2.line(trachea, (int(t4[0] - 45 * mm), int(t4[1])), (int(t4[0] - 35 * mm), 0), 1.0,
             max(1, int(14 * mm)))
    li -= 0.5 * cv2.GaussianBlur(trachea, (0, 0), 3 * mm)
    # shoulders and arms over the upper thorax
    li += p.shoulders * _smooth_ellipse(
        shape, (mid + rng.uniform(-30, 30) * mm, -0.05 * rows),
        (half * 1.1, rng.uniform(0.22, 0.4) * rows), 0, 25 * mm)
    sternum = np.zeros(shape, np.float32)
    cv2.line(sternum, (int(front + 10 * mm), int(apex + 20 * mm)),
             (int(front + 25 * mm), int(dome.min() + 10 * mm)), 1.0, max(1, int(10 * mm)))
    li += 0.5 * cv2.GaussianBlur(sternum, (0, 0), 2 * mm)
    li += 0.05 * _texture(shape, rng, 3)
    li = cv2.resize(li, (full[1], full[0]), interpolation=cv2.INTER_LINEAR)
    return li + _ribs(p, bodies, rng, (dome.min() + 10 * mm) * k)


def _ribs(p: PhantomParams, bodies: list[_Body], rng: np.random.Generator, floor: float
          ) -> np.ndarray:
    """Rib pairs: arcs from the costovertebral joints sweeping forward and down (both
    sides, slightly different magnification)."""
    mm = p.scale / p.pixel_mm
    ribs = np.zeros(p.size, np.float32)
    for i, level in enumerate(ALL_LEVELS[3:14]):
        b = bodies[ALL_LEVELS.index(level)]
        joint = b.centre + b.axes[0] * (b.depth / 2 + 5 * mm)
        for side in (1.0, 1.07):
            a = rng.uniform(140, 190) * mm * side
            c = (int(joint[0] - a), int(joint[1] + (8 + 3 * i) * mm))
            tilt = rng.uniform(-15, 5)
            cv2.ellipse(ribs, c, (int(a), int(a * rng.uniform(0.25, 0.45))), tilt, 270, 360,
                        1.0, max(1, int(7 * mm)))
    rows = np.arange(p.size[0], dtype=np.float32)[:, None]
    fade = np.clip(1 - (rows - floor) / (60 * mm), 0, 1)
    return 0.2 * cv2.GaussianBlur(ribs, (0, 0), 1.0 * mm) * fade


def _draw_bones(li: np.ndarray, p: PhantomParams, bodies: list[_Body],
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Add vertebrae to the line integrals; return them and the instance labels."""
    mm = p.scale / p.pixel_mm
    bone = np.zeros(p.size, np.float32)
    cortex = np.zeros(p.size, np.float32)
    labels = np.zeros(p.size, np.uint8)
    for b in bodies:
        # rounded corners, kept inside the outer 4% of the depth: the truth's anterior and
        # posterior points sit at 8% (COLUMN_FRACTIONS) and must lie on the drawn outline
        radius = max(1, int(round(min(1.5 * mm, 0.04 * b.depth))))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        lo = np.maximum(np.floor(b.outline.min(axis=0)).astype(int) - radius - 2, 0)
        hi = np.minimum(np.ceil(b.outline.max(axis=0)).astype(int) + radius + 3,
                        (p.size[1], p.size[0]))
        if (hi <= lo).any():
            continue
        window = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        body = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
        rr, cc = polygon(b.outline[:, 1] - lo[1], b.outline[:, 0] - lo[0], body.shape)
        body[rr, cc] = 1  # pixel centres inside the outline (fillPoly adds the edge pixels)
        body = cv2.morphologyEx(body, cv2.MORPH_OPEN, kernel)
        bone[window] += body * (0.9 + 0.1 * rng.random())
        cv2.polylines(cortex, [np.round(b.outline * 16).astype(np.int32)], True, 1.0,
                      max(1, int(1.2 * mm)), cv2.LINE_AA, 4)
        post, down = b.axes
        pedicle = b.centre + post * (b.depth / 2 + 9 * mm)
        spinous = pedicle + post * 30 * mm + down * 18 * mm
        cv2.line(bone, tuple(int(v) for v in pedicle), tuple(int(v) for v in spinous), 0.7,
                 max(1, int(9 * mm)))
        cv2.ellipse(bone, tuple(int(v) for v in pedicle), (int(10 * mm), int(7 * mm)), 0, 0, 360,
                    0.8, -1)
        if b.level in DATASET_LEVELS:
            labels[window][body > 0] = DATASET_LEVELS.index(b.level) + 1
    texture = 1 + 0.15 * _texture(p.size, rng, 1.0 * mm)
    bone = cv2.GaussianBlur(bone, (0, 0), 0.7) * texture + 0.8 * cortex
    return li + 1.1 * p.bone_density * bone, labels


def render_phantom(params: PhantomParams) -> Synthetic:
    """Render one phantom radiograph with its instance labels and 6-point truth."""
    rng = np.random.default_rng(params.texture_seed)
    bodies = _layout(params)
    li, labels = _draw_bones(_anatomy(params, bodies, rng), params, bodies, rng)
    truth_rows = []
    stats = label_stats(labels)
    for b in bodies:
        k = DATASET_LEVELS.index(b.level) + 1 if b.level in DATASET_LEVELS else 0
        if k not in stats:
            continue
        frac = params.fractures.get(b.level)
        truth_rows.append(truth_row("", b.level, b.points.copy(), params.pixel_mm, stats[k],
                                    labels.shape, frac.as_dict() if frac else None))
    image = radiograph(li, params.exposure, rng)
    truth = truth_table(truth_rows)
    if params.facing == "right":  # the phantom is drawn facing left; mirror it
        image, labels = image[:, ::-1].copy(), labels[:, ::-1].copy()
        width = params.size[1] - 1
        for c in (c for c in truth.columns if c.endswith("_x") or c == "cx"):
            truth[c] = width - truth[c]
    return Synthetic(
        image=image, labels=labels, truth=truth, pixel_mm=params.pixel_mm, magnification=1.0,
        view="lateral", facing=params.facing,
        fractures={k: v.as_dict() for k, v in params.fractures.items()}, source="phantom",
    )
