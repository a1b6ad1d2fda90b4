"""PNG, JPEG and TIFF: 8/16 bit, equal-channel RGB, and every bad image refused clearly."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from dicom_factory import assert_refused

from morpho.io import read_radiograph


def _image16(rows: int = 96, columns: int = 80) -> np.ndarray:
    image = np.tile(np.linspace(1000, 60000, columns), (rows, 1))
    image[30:60, 30:50] = 65535
    return image.astype(np.uint16)


def test_png_16_bit_keeps_full_depth(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), _image16())
    image = read_radiograph(tmp_path / "a.png")
    np.testing.assert_allclose(image.pixels, _image16() / 65535, atol=1e-7)
    assert (image.bits_stored, image.spacing_mm, image.spacing_source) == (16, None, "none")
    assert np.array_equal(np.round(image.pixels * 65535), _image16())  # no 8-bit squeeze
    assert image.image_id == "a" and image.view == "unknown"


def test_tiff_16_bit_and_miniswhite(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", _image16())
    tifffile.imwrite(tmp_path / "b.tiff", _image16(), photometric="miniswhite")
    plain, inverted = read_radiograph(tmp_path / "a.tif"), read_radiograph(tmp_path / "b.tiff")
    np.testing.assert_allclose(plain.pixels, _image16() / 65535, atol=1e-7)
    np.testing.assert_allclose(inverted.pixels, 1 - plain.pixels, atol=1e-7)
    assert plain.bits_stored == 16


def test_jpeg_8_bit(tmp_path):
    gray = (_image16() // 257).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), gray, [cv2.IMWRITE_JPEG_QUALITY, 100])
    image = read_radiograph(tmp_path / "a.jpg")
    assert image.bits_stored == 8
    np.testing.assert_allclose(image.pixels, gray / 255, atol=8 / 255)  # JPEG ringing


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_equal_channel_rgb_is_gray(tmp_path, suffix):
    gray = (_image16() // 257).astype(np.uint8)
    cv2.imwrite(str(tmp_path / f"rgb{suffix}"), cv2.merge([gray, gray, gray]))
    image = read_radiograph(tmp_path / f"rgb{suffix}")
    assert image.pixels.ndim == 2 and image.photometric == "RGB"
    np.testing.assert_allclose(image.pixels, gray / 255, atol=8 / 255)


def test_colour_refused(tmp_path):
    colour = np.random.default_rng(0).integers(0, 255, (96, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    assert_refused(tmp_path / "colour.png", "colour")


def test_constant_and_small_refused(tmp_path):
    cv2.imwrite(str(tmp_path / "flat.png"), np.full((96, 80), 9, np.uint8))
    cv2.imwrite(str(tmp_path / "tiny.png"), _image16(63, 200))
    assert_refused(tmp_path / "flat.png", "constant")
    assert_refused(tmp_path / "tiny.png", "too small", "200x63")


@pytest.mark.parametrize("size", [(12_000, 10_000), (30_000, 20_000)])
def test_huge_png_refused_from_its_header(tmp_path, size):
    path = tmp_path / "huge.png"
    cv2.imwrite(str(path), _image16())
    data = bytearray(path.read_bytes())
    ihdr = b"IHDR" + struct.pack(">II", *size) + bytes(data[24:29])
    data[12:33] = ihdr + struct.pack(">I", zlib.crc32(ihdr))
    path.write_bytes(bytes(data))
    assert_refused(path, "too large", "before decoding")


def test_multi_page_tiff_refused(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([_image16()] * 5), photometric="minisblack")
    assert_refused(tmp_path / "stack.tif", "5 frames")


def test_planar_rgb_tiff_with_equal_channels_is_gray(tmp_path):
    tifffile.imwrite(tmp_path / "planar.tif", np.stack([_image16()] * 3), photometric="rgb")
    image = read_radiograph(tmp_path / "planar.tif")
    np.testing.assert_allclose(image.pixels, _image16() / 65535, atol=1e-7)


def test_truncated_png_refused(tmp_path):
    path = tmp_path / "cut.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 65535, (96, 80), np.uint16))
    path.write_bytes(path.read_bytes()[:2000])
    assert_refused(path, "truncated")


def test_non_image_empty_and_unreadable(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7\n" + bytes(300))
    (tmp_path / "notes.dcm").write_text("hello " * 100)
    (tmp_path / "empty.dcm").write_bytes(b"")
    assert_refused(tmp_path / "notes.png", "not an image file")
    assert_refused(tmp_path / "report.pdf", "not an image file")
    assert_refused(tmp_path / "notes.dcm", "not DICOM")
    assert_refused(tmp_path / "empty.dcm", "empty file")
    assert_refused(tmp_path / "missing.png", "cannot read file")
    assert_refused(tmp_path, "cannot read file")
