"""CT volumes with vertebra labels, reoriented to RAS, with body-only level labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from morpho.errors import MorphoError
from morpho.synth import LEVEL_NAMES

# Label numbering of the vertebra masks, to a level name.
VERSE_LEVELS = {i + 1: name for i, name in enumerate(LEVEL_NAMES)}  # 1-7 C, 8-19 T, 20-25 L
TOTALSEG_LEVELS = {
    **{27 + i: f"L{5 - i}" for i in range(5)},  # 27 L5 ... 31 L1
    **{32 + i: f"T{12 - i}" for i in range(12)},  # 32 T12 ... 43 T1
    **{44 + i: f"C{7 - i}" for i in range(7)},  # 44 C7 ... 50 C1
}
TOTALSEG_SPINAL_CORD = 79
TPTBOX_BODY = (49, 50)  # corpus border, corpus


@dataclass
class CTVolume:
    """A CT in RAS orientation (axis 0 to the patient's right, 1 anterior, 2 superior).

    ``body_labels`` holds, per voxel, the 1-based index into ``LEVEL_NAMES`` of the vertebral
    BODY there (posterior elements removed), 0 elsewhere.
    """

    name: str
    hu: np.ndarray  # float32, outside the body set to -1000
    body_labels: np.ndarray  # uint8
    affine: np.ndarray  # voxel -> mm (RAS)

    @property
    def spacing(self) -> np.ndarray:
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))

    @property
    def levels(self) -> list[str]:
        present = np.unique(self.body_labels)
        return [LEVEL_NAMES[k - 1] for k in present if k > 0]


def _canonical(path: Path) -> nib.Nifti1Image:
    return nib.as_closest_canonical(nib.load(str(path)))


def _find(folder: Path, *must: str, exclude: tuple[str, ...] = ()) -> Path | None:
    for p in sorted(folder.glob("*.nii*")):
        name = p.name.lower()
        if all(m in name for m in must) and not any(x in name for x in exclude):
            return p
    return None


def _level_lut(table: dict[int, str]) -> np.ndarray:
    """A lookup table from a mask label (int16 read as uint16) to its ``LEVEL_NAMES`` index + 1."""
    lut = np.zeros(1 << 16, np.uint8)
    for label, name in table.items():
        lut[label] = LEVEL_NAMES.index(name) + 1
    return lut


def load_ct(folder: str | Path) -> CTVolume:
    """Load a CT folder: a HU volume plus a VerSe (``*seg-vert*``) or TotalSegmentator
    (``mask.nii.gz``) vertebra mask, and a TPTBox sub-region mask where present."""
    folder = Path(folder)
    ct = _find(folder, "ct", exclude=("msk", "mask", "seg")) or _find(folder, "cxr")
    verse = _find(folder, "seg-vert")
    totalseg = _find(folder, "mask")
    if ct is None or (verse is None and totalseg is None):
        raise MorphoError(folder, "no CT volume with a vertebra mask found")
    img = _canonical(ct)
    hu = np.clip(np.asarray(img.dataobj, dtype=np.float32), -1000, 3000)
    if verse is not None:
        vert = np.asarray(_canonical(verse).dataobj).astype(np.int16)
        table, cord = VERSE_LEVELS, None
    else:
        raw = np.asarray(_canonical(totalseg).dataobj).astype(np.int16)
        table, cord = TOTALSEG_LEVELS, raw == TOTALSEG_SPINAL_CORD
        vert = raw
    if vert.shape != hu.shape:
        raise MorphoError(folder, f"mask shape {vert.shape} differs from CT {hu.shape}")
    levels = _level_lut(table)[vert.view(np.uint16)]
    subreg = _find(folder, "seg-subreg")
    spacing = np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0))
    if subreg is not None:
        sub = np.asarray(_canonical(subreg).dataobj)
        body = np.where(np.isin(sub, TPTBOX_BODY), levels, 0).astype(np.uint8)
    else:
        body = split_bodies(levels, spacing, cord if cord is not None and cord.any() else None)
    hu[~body_region(hu)] = -1000
    return CTVolume(folder.name, hu, body, img.affine.astype(np.float64))


def body_region(hu: np.ndarray) -> np.ndarray:
    """The patient (largest connected component above -500 HU, holes filled): drops the table."""
    solid = ndi.binary_opening(hu > -500, iterations=2)
    comps, n = ndi.label(solid)
    if n == 0:
        return np.ones(hu.shape, bool)
    largest = 1 + int(np.argmax(np.bincount(comps.ravel())[1:]))
    region = comps == largest
    for z in range(region.shape[2]):
        region[:, :, z] = ndi.binary_fill_holes(region[:, :, z])
    return ndi.binary_dilation(region, iterations=2)


def split_bodies(
    levels: np.ndarray, spacing: np.ndarray, cord: np.ndarray | None = None, margin_mm: float = 1.5
) -> np.ndarray:
    """Keep only the vertebral bodies: voxels anterior to the spinal canal.

    The canal's anterior wall is found per axial slice from the spinal cord where given,
    else from the hole each vertebra's arch encloses in its axial footprint. Anterior is +axis 1
    (RAS), decided once per volume, so slices through a spinous process cannot flip it.
    """
    front = np.full(levels.shape[2], np.nan)  # canal's anterior wall (axis-1 index) per slice
    if cord is not None:
        for z in np.flatnonzero(cord.any(axis=(0, 1))):
            front[z] = np.flatnonzero(cord[:, :, z].any(axis=0)).max() + margin_mm / spacing[1]
    else:
        for k in np.unique(levels[levels > 0]):
            vert = levels == k
            zs = np.flatnonzero(vert.any(axis=(0, 1)))
            footprint = vert.any(axis=2)
            hole = ndi.binary_fill_holes(footprint) & ~footprint
            comps, n = ndi.label(hole)
            if n:
                sizes = ndi.sum_labels(hole, comps, range(1, n + 1))
                canal = comps == 1 + int(np.argmax(sizes))
                wall = np.flatnonzero(canal.any(axis=0)).max() + margin_mm / spacing[1]
            else:  # open arch: the body is about the front 45% of the bone's depth
                ys = np.flatnonzero(footprint.any(axis=0))
                wall = ys.max() - 0.45 * (ys.max() - ys.min())
            front[zs[len(zs) // 2]] = wall
    known = np.flatnonzero(~np.isnan(front))
    if known.size == 0:
        return np.zeros_like(levels)
    front = np.interp(np.arange(front.size), known, front[known])
    y = np.arange(levels.shape[1])[None, :, None]
    return np.where(y > front[None, None, :], levels, 0).astype(np.uint8)
