"""Rendered spines with exactly known geometry for the morphometry tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.draw import polygon


@dataclass
class Body:
    """Truth for one rendered body: heights (px) and its outline (x, y)."""

    ha: float
    hm: float
    hp: float
    outline: np.ndarray

    def heights(self, inset: float = 0.08) -> tuple[float, float, float]:
        """(Ha, Hm, Hp) at ``inset`` of the depth inside the edges, as morpho measures."""
        f = inset / 0.5
        return (self.ha + f * (self.hm - self.ha), self.hm, self.hp + f * (self.hm - self.hp))


def render_spine(
    heights: list[tuple[float, float, float]],
    *,
    shape: tuple[int, int] = (700, 400),
    depth: float | list[float] = 50.0,
    gap: float | list[float] = 12.0,
    angle_deg: float = 0.0,
    bulge: float = 0.0,
    facing: str = "left",
    skip: tuple[int, ...] = (),
) -> tuple[np.ndarray, list[Body]]:
    """Render bodies with (ha, hm, hp) heights down a spine.

    ``bulge`` moves the middle of the spine towards the posterior side (px), as thoracic
    kyphosis does; ``depth`` and ``gap`` are one value or one per body / disc;
    ``angle_deg`` turns the whole spine about the image centre; ``skip`` leaves out bodies
    by position (a missing level). Returns the mask and the truth of the bodies drawn,
    cranial to caudal.
    """
    mask = np.zeros(shape, bool)
    centre = np.array([shape[1] / 2 + 0.37, shape[0] / 2 + 0.21])
    gaps = list(gap) if isinstance(gap, list) else [gap] * (len(heights) - 1)
    depths = list(depth) if isinstance(depth, list) else [depth] * len(heights)
    total = sum(max(h) for h in heights) + sum(gaps)
    theta = np.radians(angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    ant = -1.0 if facing == "left" else 1.0  # image x direction of the anterior side
    s = -total / 2
    bodies = []
    for i, (ha, hm, hp) in enumerate(heights):
        h = max(ha, hm, hp)
        mid = s + h / 2
        s += h + (gaps[i] if i < len(gaps) else 0.0)
        # kyphosis: centre displaced posteriorly by a parabola, local tilt follows it
        x = -ant * bulge * (1 - (2 * mid / total) ** 2)
        slope = -ant * bulge * (-8 * mid / total**2)
        tilt = np.arctan(slope)
        q = np.array([1, 0.0, -1]) * depths[i] / 2  # ant, mid, post across the body
        sup = [(ant * q[0], -ha / 2), (ant * q[1], -hm / 2), (ant * q[2], -hp / 2)]
        inf = [(ant * q[2], hp / 2), (ant * q[1], hm / 2), (ant * q[0], ha / 2)]
        local = np.array(sup + inf)
        c, sn = np.cos(-tilt), np.sin(-tilt)
        local = local @ np.array([[c, -sn], [sn, c]]).T
        pts = (local + [x, mid]) @ rot.T + centre
        if i in skip:
            continue
        rr, cc = polygon(pts[:, 1], pts[:, 0], shape)
        mask[rr, cc] = True
        bodies.append(Body(ha, hm, hp, pts))
    return mask, bodies


def render_film(mask: np.ndarray, bodies: list[Body], dips: dict[int, float]) -> np.ndarray:
    """A lateral film of upright bodies (no angle, no bulge): dark discs, body bone, a
    2-px bright cortical line on each endplate, whose middle sinks ``dips[i]`` px
    (parabolic) into body i while its silhouette (the rims) keeps the mask's outline."""
    film = np.full(mask.shape, 0.15)
    for i, body in enumerate(bodies):
        x0, y0 = body.outline.min(axis=0)
        x1, y1 = body.outline.max(axis=0)
        cols = np.arange(int(np.ceil(x0)), int(x1) + 1)
        dip = dips.get(i, 0.0) * (1 - ((cols - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2)
        for c, d in zip(cols, dip, strict=True):
            rows = np.arange(int(np.ceil(y0)), int(y1) + 1)
            inside = (rows >= y0 + d) & (rows <= y1 - d)
            film[rows, c] = np.where(inside, 0.5, 0.3)  # rims only outside the dip
            film[rows[(rows >= y0 + d) & (rows < y0 + d + 2)], c] = 1.0
            film[rows[(rows <= y1 - d) & (rows > y1 - d - 2)], c] = 1.0
    return film
