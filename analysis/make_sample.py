"""Make ``samples/sample_lateral.dcm``: a synthetic lateral chest radiograph, no patient data.

    python analysis/make_sample.py [--out samples/sample_lateral.dcm]

The image comes from :func:`sample_image`; swap it for any function returning a 2-D uint16
image (bone bright) to regenerate the sample from a better phantom. Everything else (the
header: spacing, magnification, view, facing, age, sex, height) stays as is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from morpho.io import read_radiograph, write_dicom

SIZE = 1024
DETECTOR_SPACING_MM = 0.4
MAGNIFICATION = 1.15
BITS = 12


def _filled(shape: tuple[int, int], draw) -> np.ndarray:
    """A float mask in [0, 1] drawn by ``draw(canvas)`` on a uint8 canvas."""
    canvas = np.zeros(shape, np.uint8)
    draw(canvas)
    return canvas.astype(np.float32) / 255


def sample_image(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """A simple synthetic lateral chest film facing left: soft tissue, lungs, heart, ribs
    and a kyphotic thoracolumbar spine of 12 bodies, one (the 10th) wedged. uint16, 12 bit."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    s = size / 1024
    tissue = _filled(shape, lambda c: cv2.ellipse(c, (512, 560), (430, 620), 0, 0, 360, 255, -1))
    lungs = _filled(shape, lambda c: cv2.ellipse(c, (470, 420), (300, 330), -8, 0, 360, 255, -1))
    heart = _filled(shape, lambda c: cv2.ellipse(c, (330, 600), (190, 170), 20, 0, 360, 255, -1))
    ribs = _filled(
        shape,
        lambda c: [
            cv2.ellipse(c, (560, 140 + 70 * k), (330, 120), 12, 200, 340, 255, 9) for k in range(10)
        ],
    )
    bodies = np.zeros(shape, np.float32)
    posterior = np.zeros(shape, np.float32)
    y = 70.0 * s
    for level in range(12):
        height = (58 + 2.5 * level) * s
        width = (76 + 2 * level) * s
        t = (y + height / 2) / size
        cx = (650 + 80 * np.sin(np.pi * t)) * s  # kyphosis: convex backwards (to the right)
        turn = np.arctan(80 * np.pi / 1024 * np.cos(np.pi * t))  # endplates follow the curve
        anterior = 0.7 if level == 9 else 1.0  # one wedge fracture
        half_w, half_h = width / 2, height / 2
        corners = np.array(
            [[-half_w, -half_h * anterior], [half_w, -half_h], [half_w, half_h],
             [-half_w, half_h * anterior]],
        )  # fmt: skip
        rotation = np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
        points = corners @ rotation.T + [cx, y + half_h]
        body = _filled(shape, lambda c, p=points: cv2.fillPoly(c, [np.int32(p)], 255))
        rim = body - cv2.erode(body, np.ones((7, 7), np.uint8))
        bodies += 0.3 * body + 0.3 * rim
        tail = (int(cx + half_w + 60 * s), int(y + half_h + 10 * s))
        axes = (int(50 * s), int(20 * s))
        posterior += _filled(
            shape, lambda c, t=tail, a=axes: cv2.ellipse(c, t, a, 30, 0, 360, 255, -1)
        )
        y += height + 16 * s
    trabecular = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 3 * s)
    bodies *= 1 + 0.6 * trabecular
    tissue = cv2.GaussianBlur(tissue, (0, 0), 25 * s)
    density = 0.45 * tissue - 0.25 * lungs * tissue + 0.12 * heart + 0.10 * ribs
    density += bodies + 0.25 * posterior
    density = cv2.GaussianBlur(density, (0, 0), 2 * s)
    density += rng.normal(0, 0.004, shape).astype(np.float32)
    scaled = (density - density.min()) / np.ptp(density)
    return np.round(scaled * (2**BITS - 1)).astype(np.uint16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("samples/sample_lateral.dcm"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_dicom(
        args.out, sample_image(), spacing_mm=DETECTOR_SPACING_MM, magnification=MAGNIFICATION,
        view="lateral", facing="left", age=68, sex="F", height_cm=158, weight_kg=62,
        bits_stored=BITS, compression="jpeg2000",
    )  # fmt: skip
    image = read_radiograph(args.out)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, {image.shape[1]}x{image.shape[0]},"
          f" spacing {image.spacing_mm} mm ({image.spacing_source})")  # fmt: skip


if __name__ == "__main__":
    main()
