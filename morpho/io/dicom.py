"""DICOM to a display-ready array, the way PACS viewers (and torchxrayvision) do it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import UID

from morpho.errors import MorphoError
from morpho.io.checks import check_decoder, check_dimensions, check_not_constant, to_gray
from morpho.io.header import header_facts
from morpho.io.radiograph import Radiograph
from morpho.io.spacing import dicom_spacing

GRAY = ("MONOCHROME1", "MONOCHROME2")
EQUAL_CHANNELS = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT")  # gray if equal


def _stretch(values: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] over the array's own min..max."""
    values = values.astype(np.float64)
    low, high = values.min(), values.max()
    return ((values - low) / (high - low)).astype(np.float32)


def dicom_to_array(ds: Dataset, stored: np.ndarray) -> np.ndarray:
    """Stored DICOM pixels to float32 in [0, 1], bone bright.

    Applies the modality LUT (rescale slope and intercept), then the first VOI LUT or
    window when present (else the full min..max range), then inverts MONOCHROME1 and
    a Presentation LUT Shape of INVERSE.
    """
    values = apply_modality_lut(stored, ds)
    if ds.get("PhotometricInterpretation") in GRAY:
        try:
            windowed = apply_voi_lut(values, ds, index=0)
        except (ValueError, IndexError, KeyError, AttributeError):
            windowed = values  # an unusable VOI: fall back to the full range
        if np.ptp(windowed) > 0:
            values = windowed
    pixels = _stretch(values)
    # MONOCHROME1, or a Presentation LUT Shape of INVERSE: the lowest value shows white.
    # (DX pairs MONOCHROME1 with INVERSE; the two mean one inversion, not two.)
    if (ds.get("PhotometricInterpretation") == "MONOCHROME1"
            or ds.get("PresentationLUTShape") == "INVERSE"):
        pixels = 1.0 - pixels
    return pixels


def _check_header(path: Path, ds: Dataset) -> None:
    """Refuse what can be told from the header alone, before any decoding."""
    if "PixelData" not in ds:
        meta = getattr(ds, "file_meta", {})
        sop_class = ds.get("SOPClassUID") or meta.get("MediaStorageSOPClassUID")
        if not isinstance(sop_class, UID) or not sop_class.is_valid:  # absent or garbled
            raise MorphoError(path, "corrupt or not DICOM: no pixel data and no SOP class")
        if "Image Storage" in sop_class.name:  # an image's header alone: cut off, most often
            raise MorphoError(path, f"DICOM image without pixel data: truncated or incomplete "
                                    f"file ({sop_class.name})")
        raise MorphoError(path, f"not an image: DICOM without pixel data ({sop_class.name})")
    try:
        rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        frames = int(ds.get("NumberOfFrames") or 1)
    except (TypeError, ValueError) as exc:
        raise MorphoError(path, f"corrupt DICOM header: {exc}") from None
    if not rows or not columns:
        raise MorphoError(path, "DICOM pixel data without Rows/Columns")
    check_dimensions(path, rows, columns, frames)
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric not in GRAY + EQUAL_CHANNELS:
        raise MorphoError(path, f"colour image ({photometric or 'no photometric'})")
    check_decoder(path, getattr(ds, "file_meta", {}).get("TransferSyntaxUID"))


def _decode(path: Path, ds: Dataset) -> np.ndarray:
    try:
        return ds.pixel_array
    except RuntimeError as exc:  # every decoder plugin failed; pydicom lists their reasons
        reasons = "; ".join(line.strip() for line in str(exc).splitlines()[1:])
        cause = f"cannot decode pixel data (corrupt or unsupported): {reasons}"
        raise MorphoError(path, cause) from None
    except (ValueError, TypeError, AttributeError, OSError, EOFError) as exc:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MorphoError(path, f"corrupt or truncated pixel data: {cause}") from None


def read_dicom_dataset(path: str | Path) -> Dataset:
    """The dataset, pixel data deferred (not read until decoded)."""
    path = Path(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path, defer_size="64 KB", force=True)
    except OSError as exc:
        raise MorphoError(path, f"cannot read file: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on a broken file
        raise MorphoError(path, f"corrupt DICOM: {exc}") from None
    if "PixelData" not in ds and any("End of file" in str(w.message) for w in caught):
        # pydicom drops an element the file ends inside (encapsulated pixel data above all)
        raise MorphoError(path, "truncated DICOM: the file ends before its pixel data is complete")
    return ds


def read_dicom(path: str | Path) -> Radiograph:
    """Read a single-frame grayscale DICOM into a :class:`Radiograph`."""
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-conformant files warn; the result is checked
        ds = read_dicom_dataset(path)
        _check_header(path, ds)
        stored = _decode(path, ds)
        bits = int(ds.get("BitsStored") or stored.dtype.itemsize * 8)
        stored = to_gray(path, stored, tolerance=0.012 * (2**bits - 1))  # lossy YBR rounding
        check_not_constant(path, stored)
        try:
            pixels = dicom_to_array(ds, stored)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise MorphoError(path, f"invalid pixel module: {exc}") from None
    spacing, source = dicom_spacing(ds)
    return Radiograph(
        pixels=pixels,
        spacing_mm=spacing,
        spacing_source=source,
        photometric=str(ds.PhotometricInterpretation),
        bits_stored=bits,
        path=str(path),
        image_id=path.stem,
        **header_facts(ds),
    )
