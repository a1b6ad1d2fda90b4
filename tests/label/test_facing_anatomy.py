"""Facing from anatomy: the spine lies at the back of the chest's silhouette."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from morpho.label import label_bodies
from morpho.label.facing import facing_from_anatomy
from morpho.resources import shared_data_dir
from morpho.synth.phantom import PhantomParams, render_phantom

CHEST_CT = shared_data_dir() / "ct" / "lidc-idri-0001"


def chest(anterior: str) -> tuple[np.ndarray, np.ndarray]:
    """A lateral chest film (air, body silhouette, darker lungs) with a straight column of
    eight bodies near its back, and their mask; anterior on the ``anterior`` side."""
    shape = (420, 370)
    image = np.full(shape, 10.0)
    cv2.ellipse(image, (165, 210), (150, 260), 0, 0, 360, 120, -1)
    cv2.ellipse(image, (130, 170), (70, 110), 0, 0, 360, 75, -1)
    mask = np.zeros(shape, bool)
    for k in range(8):
        top = 60 + k * 36
        mask[top:top + 28, 216:248] = True
    image[mask] = 220
    image += np.random.default_rng(1).normal(0, 3, shape)
    if anterior == "right":
        image, mask = image[:, ::-1].copy(), mask[:, ::-1].copy()
    return image, mask


def shrink(image: np.ndarray, mask: np.ndarray, short_side: int):
    """An export ``short_side`` px on its short side: 8-bit image, nearest mask."""
    f = short_side / min(image.shape)
    size = (round(image.shape[1] * f), round(image.shape[0] * f))
    grey = np.clip(cv2.resize(image, size, interpolation=cv2.INTER_AREA), 0, 255)
    small = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return grey.astype(np.uint8), small


@pytest.mark.parametrize("anterior", ["left", "right"])
@pytest.mark.parametrize("side", [None, 320, 200])
def test_spine_at_the_back_of_the_chest(anterior, side):
    image, mask = chest(anterior)
    if side:
        image, mask = shrink(image, mask, side)
    lab = label_bodies(mask, pixels=image)
    assert (lab.facing, lab.facing_source) == (anterior, "anatomy")


def test_image_of_another_size_than_the_mask():
    image, mask = chest("right")
    small, _ = shrink(image, mask, 200)
    assert label_bodies(mask, pixels=small).facing == "right"


def test_override_and_header_come_first():
    image, mask = chest("left")
    assert label_bodies(mask, pixels=image, anterior="right").facing_source == "override"
    lab = label_bodies(mask, pixels=image, facing_hint="right")
    assert (lab.facing, lab.facing_source) == ("right", "header")


def test_a_film_the_body_fills_and_a_spine_in_the_middle():
    """Where the body fills the film, the image's extent on each side counts; a spine in
    the middle of the silhouette, or a shorter side cut by the image edge (only a lower
    bound), does not decide."""
    image, mask = chest("left")
    bodies = label_bodies(mask).vertebrae
    filled = np.where(image < 50, 120.0, image)[:, :330]  # framed around the chest
    assert facing_from_anatomy(filled, bodies, filled.shape) == "left"
    centred = np.roll(image, 100, axis=1)
    assert facing_from_anatomy(centred, bodies, mask.shape) is None
    cut = np.where(np.arange(image.shape[1]) < 150, image, np.maximum(image, 120.0))
    assert facing_from_anatomy(cut, bodies, mask.shape) is None  # the back runs off the film


@pytest.mark.parametrize("anterior", ["left", "right"])
@pytest.mark.parametrize("side", [None, 320])
def test_phantom(anterior, side):
    params = dataclasses.replace(
        PhantomParams.sample(np.random.default_rng(3), (512, 512)), facing=anterior)
    film = render_phantom(params)
    image, mask = film.image.astype(np.float32), film.labels > 0
    if side:
        image, mask = shrink(image / image.max() * 255, mask, side)
    lab = label_bodies(mask, pixels=image)
    assert (lab.facing, lab.facing_source) == (anterior, "anatomy")


@pytest.fixture(scope="module")
def chest_ct():
    from morpho.synth.ctvolume import load_ct
    from morpho.synth.drr import DRRSource

    return DRRSource(load_ct(CHEST_CT))


@pytest.mark.skipif(not CHEST_CT.is_dir(), reason="needs ../shared/data/ct/lidc-idri-0001")
@pytest.mark.parametrize("anterior", ["left", "right"])
@pytest.mark.parametrize("side", [None, 320])
def test_drr_of_a_chest_ct(chest_ct, anterior, side):
    from morpho.synth.drr import DRRParams, render_drr

    film = render_drr(chest_ct, DRRParams(size=(512, 512), facing=anterior),
                      np.random.default_rng(0))
    image, mask = film.image.astype(np.float32), film.labels > 0
    if side:
        image, mask = shrink(image / image.max() * 255, mask, side)
    lab = label_bodies(mask, pixels=image)
    assert (lab.facing, lab.facing_source) == (anterior, "anatomy")


def test_order_of_the_cues(monkeypatch):
    """Where anatomy does not decide: the image beside the bodies before the curvature,
    unless level names are known (then the curvature's thoracic/lumbar reading first)."""
    from morpho.label import labelling

    image, mask = chest("left")
    monkeypatch.setattr(labelling, "facing_from_anatomy", lambda *a: None)
    monkeypatch.setattr(labelling, "facing_from_image", lambda *a: "right")
    monkeypatch.setattr(labelling, "facing_from_curvature", lambda *a: ("left", "curvature"))
    lab = label_bodies(mask, pixels=image)
    assert (lab.facing, lab.facing_source) == ("right", "image")
    lab = label_bodies(mask, pixels=image, first_level="T1")
    assert (lab.facing, lab.facing_source) == ("left", "curvature")
    assert label_bodies(mask).facing_source == "curvature"  # no image: the curvature
