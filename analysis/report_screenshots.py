"""Render both morpho reports in headless Chromium and save screenshots to look at.

    python analysis/report_screenshots.py [--run BATCH_DIR] [--out DIR]

Without ``--run`` it makes a small demo run first: phantom films (one DICOM with a patient
name and id, to check they stay out of the default report) through the batch chain with a
threshold segmenter, so it needs no model. Prints the screenshot paths.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "batch"))

from batch_dicoms import write_dicom  # noqa: E402
from batch_phantoms import phantom, threshold_chain  # noqa: E402

from morpho.batch import items_from_input, run_batch  # noqa: E402
from morpho.report import write_cohort_report, write_subject_reports  # noqa: E402
from morpho.report.html import BatchTables  # noqa: E402


def demo_run(folder: Path) -> Path:
    source = folder / "films"
    source.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        image = phantom(900, 500, wedge_at=int(rng.integers(0, 12)), seed=i)
        if i % 3 == 0:
            write_dicom(source / f"film{i:02d}.dcm", np.round(image * 4000), j2k=True)
        else:
            cv2.imwrite(str(source / f"film{i:02d}.png"), np.round(image * 255).astype(np.uint8))
    (source / "broken.dcm").write_bytes(b"not a dicom")
    run_batch(items_from_input(source), folder / "batch", threshold_chain, workers=1)
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
    tables = BatchTables.load(run)
    pages = write_subject_reports(tables, args.out / "report" / "subjects")
    links = [(name, f"subjects/{path.name}") for name, path in pages]
    cohort = write_cohort_report(tables, args.out / "report" / "cohort.html", links=links)
    flagged = next((p for _, p in pages if '<li class="warn">' in p.read_text()
                    or '<li class="bad">T' in p.read_text()), pages[0][1])  # fmt: skip
    shots = {"cohort.png": (cohort, "1280,2600"), "subject.png": (flagged, "1280,1500")}
    for name, (page, size) in shots.items():
        screenshot(browser, page, args.out / name, size)
        print(args.out / name)


if __name__ == "__main__":
    main()
