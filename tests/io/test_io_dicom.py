"""DICOM the way PACS viewers show it, and every bad DICOM refused with one clear cause."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import IDENTIFIERS, assert_refused, make_dataset, ramp
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG2MPML, JPEG2000Lossless, RLELossless

import morpho.io.checks
from morpho.io import read_radiograph

BONE = (45, 40)  # inside ramp()'s bright block


def _stretch(values):
    values = np.asarray(values, dtype=np.float64)
    return (values - values.min()) / np.ptp(values)


def test_monochrome2_full_range_when_no_voi(dicom_file):
    image = read_radiograph(dicom_file())
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (96, 80)
    np.testing.assert_allclose(image.pixels, _stretch(ramp()), atol=1e-6)
    assert image.pixels[BONE] == 1.0 and image.photometric == "MONOCHROME2"
    assert image.bits_stored == 12


def test_monochrome1_is_inverted(dicom_file):
    image = read_radiograph(dicom_file(PhotometricInterpretation="MONOCHROME1"))
    np.testing.assert_allclose(image.pixels, 1 - _stretch(ramp()), atol=1e-6)
    assert image.pixels[BONE] == 0.0


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_presentation_lut_inverse_means_one_inversion(dicom_file, photometric):
    image = read_radiograph(
        dicom_file(PhotometricInterpretation=photometric, PresentationLUTShape="INVERSE"))
    np.testing.assert_allclose(image.pixels, 1 - _stretch(ramp()), atol=1e-6)


def test_window(dicom_file):
    image = read_radiograph(dicom_file(WindowCenter=600, WindowWidth=400))
    expected = np.clip((ramp() - 400.0) / 400.0, 0, 1)
    np.testing.assert_allclose(image.pixels, expected, atol=3e-3)


def test_rescale_is_applied_before_the_window(dicom_file):
    # the window is given in rescaled units: centre 200 = stored 600, width 800 = stored 400
    image = read_radiograph(
        dicom_file(RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=200, WindowWidth=800)
    )
    expected = np.clip((ramp() - 400.0) / 400.0, 0, 1)
    np.testing.assert_allclose(image.pixels, expected, atol=3e-3)


def test_first_voi_lut_wins_over_the_window(dicom_file):
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 16]
    table = np.array([(4095 - v) ** 2 // 4095 for v in range(4096)], np.uint16)  # inverting
    lut.LUTData = table.tobytes()
    other = Dataset()
    other.LUTDescriptor = [4096, 0, 16]
    other.LUTData = np.arange(4096, dtype=np.uint16).tobytes()
    path = dicom_file(VOILUTSequence=[lut, other], WindowCenter=600, WindowWidth=400)
    image = read_radiograph(path)
    expected = _stretch(table[ramp()])
    np.testing.assert_allclose(image.pixels, expected, atol=1e-6)


def test_rle_compressed_reads_like_uncompressed(tmp_path, dicom_file):
    ds = make_dataset(WindowCenter=600, WindowWidth=400)
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "rle.dcm", enforce_file_format=True)
    compressed = read_radiograph(tmp_path / "rle.dcm")
    plain = read_radiograph(dicom_file(WindowCenter=600, WindowWidth=400))
    np.testing.assert_array_equal(compressed.pixels, plain.pixels)


def test_header_facts_and_no_identifiers(dicom_file):
    path = dicom_file(
        ViewPosition="LL", PatientOrientation=["P", "F"], PatientAge="067Y", PatientSex="F",
        PatientSize=1.62, PatientWeight=58, Manufacturer="ACME", BodyPartExamined="CHEST",
        **IDENTIFIERS,
    )  # fmt: skip
    image = read_radiograph(path)
    facts = image.to_dict()
    assert (image.view, image.facing, image.age, image.sex) == ("lateral", "left", 67.0, "F")
    assert (image.height_cm, image.weight_kg) == (162.0, 58.0)
    assert (image.modality, image.manufacturer, image.body_part) == ("DX", "ACME", "CHEST")
    text = repr(facts)
    for value in IDENTIFIERS.values():
        assert value not in text
        assert value.split("^")[0] not in text


def test_equal_channel_rgb_dicom_is_gray(dicom_file):
    gray = ramp() // 16
    rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.uint8)
    image = read_radiograph(dicom_file(rgb, PhotometricInterpretation="RGB", BitsStored=8))
    np.testing.assert_allclose(image.pixels, _stretch(gray), atol=1e-6)


def test_colour_dicom_refused(dicom_file):
    rgb = np.random.default_rng(0).integers(0, 255, (96, 80, 3), dtype=np.uint8)
    assert_refused(dicom_file(rgb, PhotometricInterpretation="RGB", BitsStored=8), "colour")


def test_multi_frame_refused_with_count(dicom_file):
    assert_refused(dicom_file(np.stack([ramp()] * 3)), "multi-frame", "3 frames")


def test_no_pixel_data_refused(dicom_file):
    assert_refused(dicom_file(False), "without pixel data", "truncated", "Digital X-Ray")


def test_truncated_before_the_pixel_data_refused_as_truncated(dicom_file):
    path = dicom_file()
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"\xe0\x7f\x10\x00")])  # cut at (7FE0,0010)
    assert_refused(path, "truncated", "Digital X-Ray")


def test_non_image_dicom_refused_as_not_an_image(dicom_file):
    assert_refused(dicom_file(False, SOPClassUID="1.2.840.10008.5.1.4.1.1.88.11"),
                   "not an image", "Basic Text SR")


def test_truncated_refused(dicom_file):
    path = dicom_file()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 4000])
    assert_refused(path, "truncated")


def test_truncated_compressed_pixel_data_refused_as_truncated(tmp_path):
    """pydicom drops an encapsulated element the file ends inside; say truncated, not
    'without pixel data'."""
    ds = make_dataset()
    ds.compress(RLELossless)
    path = tmp_path / "cut.dcm"
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])
    assert_refused(path, "truncated DICOM")


def test_corrupt_refused(tmp_path):
    path = tmp_path / "corrupt.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)) * 8)
    assert_refused(path, "corrupt")


def test_garbled_header_without_pixel_data_refused_as_corrupt(tmp_path):
    """A blank or garbled SOP class is no SOP class (not named as an empty '()')."""
    path = tmp_path / "garbled.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00" * 10)
    assert_refused(path, "corrupt or not DICOM", "no SOP class")


def test_constant_and_small_refused(dicom_file):
    assert_refused(dicom_file(np.full((96, 80), 7, np.uint16)), "constant")
    assert_refused(dicom_file(ramp(40, 80)), "too small", "80x40")


def test_huge_refused_before_decoding(dicom_file):
    ds_path = dicom_file(ramp(), Rows=20_000, Columns=12_000)  # pixel data far too short
    assert_refused(ds_path, "too large", "240 megapixels", "before decoding")


def test_compressed_without_decoder_names_the_package(tmp_path, monkeypatch):
    ds = make_dataset()
    ds.compress(JPEG2000Lossless)
    ds.save_as(tmp_path / "j2k.dcm", enforce_file_format=True)
    assert read_radiograph(tmp_path / "j2k.dcm").pixels.shape == (96, 80)

    class Missing:
        is_available = False
        missing_dependencies = ["pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-openjpeg>=2.0"]

    monkeypatch.setattr(morpho.io.checks, "get_decoder", lambda syntax: Missing())
    assert_refused(tmp_path / "j2k.dcm", "no decoder installed", "JPEG 2000", "pylibjpeg-openjpeg")


def test_syntax_without_any_decoder(tmp_path):
    ds = make_dataset()
    ds.PixelData = encapsulate([ds.PixelData])
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.save_as(tmp_path / "video.dcm")
    assert_refused(tmp_path / "video.dcm", "no decoder exists", "MPEG2")


def test_dicom_with_a_tiff_like_preamble_is_dicom(tmp_path):
    ds = make_dataset()
    ds.preamble = b"II*\x00" + bytes(124)  # dual-personality files exist (pydicom's CT_small)
    ds.save_as(tmp_path / "dual.dcm", enforce_file_format=True)
    assert read_radiograph(tmp_path / "dual.dcm").photometric == "MONOCHROME2"


def test_bad_header_value_is_a_clean_error(tmp_path):
    make_dataset(NumberOfFrames="11").save_as(tmp_path / "bad.dcm", enforce_file_format=True)
    element = b"\x28\x00\x08\x00IS\x02\x00"  # (0028,0008) NumberOfFrames, IS, 2 bytes
    data = (tmp_path / "bad.dcm").read_bytes()
    assert data.count(element + b"11") == 1
    (tmp_path / "bad.dcm").write_bytes(data.replace(element + b"11", element + b"1A"))
    assert_refused(tmp_path / "bad.dcm", "corrupt DICOM header")
