"""The chain model cuts strips of merged lateral bodies at the disc bands of the image."""

from __future__ import annotations

import numpy as np

from morpho.label import label_bodies
from morpho.label.chain import cut_strip

HEIGHT, DEPTH, DISC = 40, 50, 10  # px: a lateral body about 0.8x as tall as deep


def strip(n: int, disc_level: float) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A mask of ``n`` bodies merged over their discs into one strip, an image (bone 200,
    discs ``disc_level``, background 40, noise) and the bodies' own masks."""
    rng = np.random.default_rng(0)
    shape = (n * (HEIGHT + DISC) + 60, 160)
    mask = np.zeros(shape, bool)
    image = np.full(shape, 40.0)
    bodies = []
    top = 30
    for _ in range(n):
        body = np.zeros(shape, bool)
        body[top:top + HEIGHT, 50:50 + DEPTH] = True
        bodies.append(body)
        image[body] = 200
        top += HEIGHT + DISC
    mask[30:top - DISC, 50:50 + DEPTH] = True  # discs bridged: one strip
    image[mask & ~np.any(bodies, axis=0)] = disc_level
    return mask, image + rng.normal(0, 4, shape), bodies


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_four_merged_bodies_with_dark_discs_are_cut_into_four():
    mask, image, bodies = strip(4, disc_level=90)
    lab = label_bodies(mask, pixels=image)
    assert len(lab.vertebrae) == 4
    for v, body in zip(lab.vertebrae, bodies, strict=True):
        found = np.zeros_like(mask)
        found[v.rows, v.cols] = True
        assert iou(found, body) > 0.7
        assert v.split == "chain"
        assert "at a disc in the image" in " ".join(v.qa)


def test_bright_disc_bands_are_discs_too():
    """Endplate cortices merge into a bright band at a coarse scale (or smeared slices)."""
    mask, image, bodies = strip(4, disc_level=255)
    assert len(label_bodies(mask, pixels=image).vertebrae) == 4


def test_a_film_reduced_to_half_size_is_cut_alike():
    mask, image, _ = strip(4, disc_level=90)
    small = image.reshape(image.shape[0] // 2, 2, image.shape[1] // 2, 2).mean(axis=(1, 3))
    assert len(label_bodies(mask, pixels=small).vertebrae) == 4


def test_a_uniform_strip_is_not_cut_by_the_chain():
    mask, _, _ = strip(4, disc_level=200)
    uniform = np.where(mask, 200.0, 40.0)
    rows, cols = np.nonzero(mask)
    assert len(cut_strip(rows, cols, uniform, None)) == 1
    with_image = label_bodies(mask, pixels=uniform).vertebrae
    without = label_bodies(mask).vertebrae
    assert [v.area for v in with_image] == [v.area for v in without]  # the size rule alone
    assert all(v.split != "chain" for v in with_image)


def test_single_bodies_are_left_alone():
    mask, image, bodies = strip(4, disc_level=90)
    apart = np.any(bodies, axis=0)
    lab = label_bodies(apart, pixels=image)
    assert len(lab.vertebrae) == 4
    assert all(v.split == "" for v in lab.vertebrae)


def test_the_cut_is_deterministic():
    mask, image, _ = strip(5, disc_level=90)
    first = [v.area for v in label_bodies(mask, pixels=image).vertebrae]
    assert first == [v.area for v in label_bodies(mask, pixels=image).vertebrae]


def test_a_body_with_its_pedicle_is_no_strip():
    """A model mask may hold a body with its pedicle slanting back and down: long along the
    spine for its area, but its own long axis strays from the spine's."""
    mask, image, bodies = strip(4, disc_level=90)
    apart = np.any(bodies, axis=0)
    top = bodies[1].nonzero()[0].min()
    for k in range(70):  # a 12-px thick bar from the body's back wall, 40 degrees off
        r, c = top + 10 + int(k * 0.77), 50 + DEPTH + int(k * 0.64)
        apart[r:r + 12, c - 6:c + 6] = True
    lab = label_bodies(apart, pixels=image)
    assert all(v.split != "chain" for v in lab.vertebrae)
