"""Preprocessing: CLAHE + resize with an exact inverse back to ORIGINAL pixels."""

import cv2
import numpy as np
import pytest

from morpho.preprocess import PreprocessConfig, make_transform, prepare, to_uint8


def blob_image(shape=(300, 140)) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros(shape, np.uint8)
    cv2.rectangle(mask, (40, 60), (100, 130), 1, -1)
    cv2.circle(mask, (70, 220), 30, 1, -1)
    noise = np.random.default_rng(0).integers(0, 200, shape)
    pixels = (mask.astype(np.int64) * 3000 + noise).astype(np.uint16)
    return pixels, mask.astype(bool)


@pytest.mark.parametrize("aspect", ["stretch", "pad", "fit", "budget"])
def test_mask_round_trip_lands_on_original_pixels(aspect):
    pixels, mask = blob_image()
    config = PreprocessConfig(height=256, width=192, aspect=aspect)
    prepared = prepare(pixels, config)
    expected = {"fit": (256, 128), "budget": (352, 160)}.get(aspect, (256, 192))
    assert prepared.array.shape == expected
    assert prepared.array.dtype == np.float32
    assert prepared.array.min() >= 0 and prepared.array.max() <= 1
    small = prepared.transform.to_network(mask.astype(np.float32))
    back = prepared.transform.to_original(small) > 0.5
    assert back.shape == mask.shape
    assert np.count_nonzero(back != mask) / np.count_nonzero(mask) < 0.02


def test_pad_keeps_aspect_and_centres():
    t = make_transform((400, 100), PreprocessConfig(height=200, width=200, aspect="pad"))
    assert t.content_shape == (200, 50) and t.offset == (0, 75)
    assert t.scale == (0.5, 0.5)


def test_fit_canvas_follows_the_content_width():
    config = PreprocessConfig(height=512, width=512, aspect="fit")
    tall = make_transform((2500, 1000), config)
    assert tall.network_shape == (512, 224) and tall.content_shape == (512, 205)
    square = make_transform((2000, 2000), config)
    assert square.network_shape == (512, 512) and square.offset == (0, 0)
    wide = make_transform((1000, 2000), config)
    assert wide.network_shape == (512, 512) and wide.content_shape == (256, 512)


def test_budget_gives_tall_films_more_rows_at_equal_pixels():
    config = PreprocessConfig(height=512, width=512, aspect="budget")
    tall = make_transform((2500, 1000), config)
    assert tall.content_shape == (810, 324) and tall.network_shape == (832, 352)
    assert 0.95 < 810 * 324 / 512**2 < 1.05
    square = make_transform((2000, 2000), config)
    assert square.network_shape == (512, 512) and square.offset == (0, 0)
    sliver = make_transform((4000, 200), config)  # each side at most twice its nominal size
    assert sliver.content_shape == (1024, 51)


@pytest.mark.parametrize("aspect", ["stretch", "pad", "fit", "budget"])
def test_points_inverse_is_exact(aspect):
    t = make_transform((977, 431), PreprocessConfig(height=512, width=256, aspect=aspect))
    xy = np.array([[0.0, 0.0], [430.0, 976.0], [123.4, 567.8]])
    assert np.allclose(t.points_to_original(t.points_to_network(xy)), xy)
    # the image's corner pixel centres map to the content's corner pixel centres
    top, left = t.offset
    ch, cw = t.content_shape
    corner = t.points_to_network(np.array([[430.0, 976.0]]))[0]
    assert np.allclose(corner, [left + cw - 1 + 0.5 - 0.5 * cw / 431, top + ch - 1 + 0.5
                                - 0.5 * ch / 977])


def test_to_uint8_scales_full_depth_and_keeps_bright_bone():
    pixels = np.array([[0, 1000], [2000, 4095]], np.uint16)
    out = to_uint8(pixels)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert out[1, 1] > out[0, 1]


def test_area_resize_gives_nearly_the_same_input_from_a_half_size_decode():
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:2048, 0:1024]
    film = 0.5 + 0.3 * np.sin(rows / 90.0) * np.cos(cols / 70.0)
    film += 0.15 * ((rows // 3 + cols // 3) % 2)  # fine texture that aliases when sampled
    film += 0.02 * rng.standard_normal(film.shape)
    half = cv2.resize(film.astype(np.float32), (512, 1024), interpolation=cv2.INTER_AREA)

    def gap(resize: str) -> float:
        config = PreprocessConfig(height=256, width=256, resize=resize)
        return float(np.abs(prepare(film, config).array - prepare(half, config).array).mean())

    assert gap("area") < 0.5 * gap("bilinear")


def test_configs_written_before_the_resize_option_mean_bilinear():
    old = {"height": 512, "width": 512, "clahe_clip": 2.0, "clahe_tile": 8, "aspect": "fit"}
    assert PreprocessConfig.from_dict(old).resize == "bilinear"
    assert PreprocessConfig.from_dict(PreprocessConfig().to_dict()).resize == "area"
