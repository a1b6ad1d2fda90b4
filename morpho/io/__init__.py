"""Reading (and writing) radiographs: DICOM, PNG, JPEG and TIFF -> :class:`Radiograph`."""

from morpho.io.radiograph import Radiograph
from morpho.io.reader import read_radiograph
from morpho.io.writer import write_dicom

__all__ = ["Radiograph", "read_radiograph", "write_dicom"]
