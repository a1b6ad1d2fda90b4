"""Run ``morpho info`` over every DICOM file shipped in the installed pydicom package.

    python analysis/info_pydicom_testfiles.py

pydicom's own test files cover compressed syntaxes, big endian, colour, multi-frame and
broken files. Asserts that no traceback is printed and that every file is either read or
named in one ``error:`` line, then prints the counts (read / clean error, grouped by cause).
Then reads the real MONOCHROME1 JPEG 2000 chest film in ../shared/data (when present) and
saves a small preview to /tmp/dx_chest_pa_j2k_preview.png to check that bone is bright.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pydicom.data
from pydicom.misc import is_dicom

from morpho.io import read_radiograph
from morpho.resources import shared_data_dir

FILM = shared_data_dir() / "dicom" / "dx_chest_pa_j2k.dcm"
PREVIEW = Path("/tmp/dx_chest_pa_j2k_preview.png")


def pydicom_test_files() -> list[Path]:
    """Every ``.dcm`` file and every file with a DICOM preamble in pydicom's test data."""
    root = Path(pydicom.data.__file__).parent / "test_files"
    return sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix == ".dcm" or is_dicom(p)))


def cause_group(cause: str) -> str:
    """A cause without its file-specific details, for counting."""
    head = re.split(r"[:(;]", cause, maxsplit=1)[0].strip()
    return re.sub(r"\d+", "N", head)


def main() -> None:
    files = pydicom_test_files()
    run = subprocess.run(
        [shutil.which("morpho") or "morpho", "info", "--json", *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    rows = json.loads(run.stdout)
    errors = dict(
        line[len("error: ") :].split(": ", 1)
        for line in run.stderr.splitlines()
        if line.startswith("error: ")
    )
    read = {row["file"] for row in rows}
    unaccounted = {str(f) for f in files} - read - set(errors)
    assert not unaccounted, f"neither read nor reported: {sorted(unaccounted)}"
    assert run.returncode == (1 if errors else 0)
    print(f"pydicom {pydicom.__version__}: {len(files)} DICOM files in its test data")
    print(f"  read: {len(read)}")
    print(f"  clean error: {len(errors)}")
    for group, count in Counter(map(cause_group, errors.values())).most_common():
        print(f"    {count:3d}  {group}")
    if "-v" in sys.argv:
        for row in rows:
            print(f"  read {Path(row['file']).name}: {row['columns']}x{row['rows']}"
                  f" {row['photometric']} {row['bits_stored']} bit")  # fmt: skip
        for path, cause in errors.items():
            print(f"  {Path(path).name}: {cause}")

    if FILM.exists():
        preview_real_film()


def preview_real_film() -> None:
    """Print the film's facts and save a 1/5-size 8-bit preview."""
    film = read_radiograph(FILM)
    facts = {k: film.to_dict()[k] for k in ("photometric", "spacing_mm", "spacing_source", "view")}
    spine, lung = film.pixels[600:1400, 900:1100].mean(), film.pixels[600:1400, 400:600].mean()
    small = cv2.resize(film.pixels, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(PREVIEW), np.round(small * 255).astype(np.uint8))
    print(f"{FILM.name}: {facts}")
    print(f"  mean spine {spine:.2f} vs right lung {lung:.2f} (bone bright); preview {PREVIEW}")


if __name__ == "__main__":
    main()
