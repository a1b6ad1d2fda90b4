"""Reading (and writing) radiographs: DICOM, PNG, JPEG and TIFF -> :class:`Radiograph`."""

from morpho.io.radiograph import Radiograph
from morpho.io.reader import read_radiograph

__all__ = ["Radiograph", "read_radiograph"]
