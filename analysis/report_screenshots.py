"""Render both morpho reports in headless Chromium and save screenshots to look at.

    python analysis/report_screenshots.py [--run BATCH_DIR] [--out DIR]

Without ``--run`` it makes a small demo run first: twelve `morpho synth` phantoms with
fractures (PNG, and every third as a JPEG 2000 DICOM with a patient name and id, to check
they stay out of the default report, and one broken file) through ``morpho batch`` with the
default model. The reports come from ``morpho report``. Prints the screenshot paths.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pydicom

from morpho.cli import app
from morpho.io import write_dicom
from morpho.synth.phantom import PhantomParams, render_phantom

PATIENT_NAME = "Zyxwv^Qutsrponm"
PATIENT_ID = "PID-4829175036-ZQX"


def demo_run(folder: Path) -> Path:
    source = folder / "films"
    source.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        film = render_phantom(PhantomParams.sample(rng, fracture_rate=0.15))
        if i % 3 == 0:
            path = write_dicom(source / f"film{i:02d}.dcm", film.image, spacing_mm=film.pixel_mm,
                               magnification=film.magnification, compression="jpeg2000")
            ds = pydicom.dcmread(path)
            ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
            ds.save_as(path)
        else:
            cv2.imwrite(str(source / f"film{i:02d}.png"), (film.image >> 8).astype(np.uint8))
    (source / "broken.dcm").write_bytes(b"not a dicom")
    app(["batch", str(source), "--out", str(folder / "batch"), "--workers", "1"],
        standalone_mode=False)
    return folder / "batch"


def screenshot(browser: str, page: Path, png: Path, size: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--no-first-run", f"--user-data-dir={profile}",
             "--hide-scrollbars", f"--window-size={size}", f"--screenshot={png}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a morpho batch output folder")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "morpho-shots")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium not found (apt-get install -y chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    run = args.run or demo_run(Path(tempfile.mkdtemp()))
    report = args.out / "report"
    if app(["report", str(run), "--out", str(report)], standalone_mode=False):
        sys.exit("morpho report failed")
    pages = sorted((report / "subjects").glob("*.html"))
    flagged = next((p for p in pages if '<li class="warn">' in p.read_text()
                    or '<li class="bad">T' in p.read_text()), pages[0])  # fmt: skip
    shots = {"cohort.png": (report / "cohort.html", "1280,2600"),
             "subject.png": (flagged, "1280,1500")}
    for name, (page, size) in shots.items():
        screenshot(browser, page, args.out / name, size)
        print(args.out / name)


if __name__ == "__main__":
    main()
