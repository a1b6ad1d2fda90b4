"""Spines of exactly known geometry: polygon bodies of given anterior, middle and posterior
heights down a straight or bowed spine, as a mask with each body's truth (for testing and
timing the measure path, whose six points and heights they give exactly)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.draw import polygon


@dataclass
class SpineBody:
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
) -> tuple[np.ndarray, list[SpineBody]]:
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
        bodies.append(SpineBody(ha, hm, hp, pts))
    return mask, bodies
