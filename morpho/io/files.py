"""Which files in a folder are images, and the collision-free names every output uses."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath

from morpho.errors import MorphoError

# DICOM files often have no suffix; files named explicitly are always read, whatever theirs.
IMAGE_SUFFIXES = frozenset(
    {".dcm", ".dicom", ".dic", ".ima", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ""}
)


def is_image_name(path: Path) -> bool:
    """True for a visible file whose suffix is an image suffix."""
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


#: What morpho writes beside a film's name (segment, measure, report --dicom-seg).
OUTPUT_ENDINGS = ("_mask.png", "_prob.png", "_overlay.png", "_measure.png", "_seg.dcm")


def _under(path: Path, folders: Sequence[Path]) -> bool:
    return any(d in path.parents for d in folders)


def find_images(folder: Path, recursive: bool = True, skip: Sequence[Path] = ()) -> Iterator[Path]:
    """The image files under ``folder`` (not inside hidden folders), sorted, leaving out
    ``skip`` (output folders): their files where they lie inside ``folder``, morpho's own
    outputs (``OUTPUT_ENDINGS``) where one is ``folder`` itself or holds it."""
    folder = Path(folder)
    root = Path(os.path.abspath(folder))
    skip = [Path(os.path.abspath(d)) for d in skip]
    inner = [d for d in skip if root in d.parents]
    outputs_here = any(d == root or d in root.parents for d in skip)
    candidates = folder.rglob("*") if recursive else folder.glob("*")
    for path in sorted(candidates):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if hidden or (inner and _under(Path(os.path.abspath(path)), inner)):
            continue
        if outputs_here and path.name.endswith(OUTPUT_ENDINGS):
            continue
        if path.is_file() and is_image_name(path):
            yield path


def relative_keys(found: Sequence[tuple[Path, Path]]) -> list[str]:
    """For (file, root) pairs (a folder's files with the folder; a file named on the command
    line with its own folder): each file's path relative to the roots' common folder, POSIX
    style. Distinct files give distinct keys."""
    roots = [os.path.abspath(root) for _, root in found]
    common = os.path.commonpath(roots) if roots else ""
    return [Path(os.path.relpath(os.path.abspath(f), common)).as_posix() for f, _ in found]


def _safe(key: str) -> str:
    """A key as a relative path that cannot leave a folder: no root, no '.' or '..'."""
    parts = [p for p in PurePosixPath(key.replace("\\", "/")).parts if p not in ("/", ".", "..")]
    return "/".join(parts) or "image"


def _duplicates(names: Sequence[str]) -> set[str]:
    return {name for name, count in Counter(names).items() if count > 1}


def output_names(keys: Sequence[str]) -> list[str]:
    """Collision-free output names for unique keys (relative paths): the key without its
    suffix (``a/x.dcm`` -> ``a/x``, mirroring the input tree); the whole key where two share
    a name (``a/x.dcm``, ``a/x.png``); a number appended where even that is not enough.
    Names never hold a root or '..', so ``folder / name`` stays inside ``folder``."""
    safe = [_safe(key) for key in keys]
    names = [str(PurePosixPath(s).with_suffix("")) if PurePosixPath(s).stem else s for s in safe]
    clashes = _duplicates(names)
    names = [s if n in clashes else n for n, s in zip(names, safe, strict=True)]
    while clashes := _duplicates(names):
        names = [f"{n}~{i + 1}" if n in clashes else n for i, n in enumerate(names)]
    return names


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused (MorphoError) when it would resolve outside ``folder``."""
    base = Path(folder).resolve()
    path = (base / name).resolve()
    if base not in path.parents:
        raise MorphoError(name, f"output path outside the output folder {folder}")
    return path
