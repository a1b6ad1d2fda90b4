"""How frontal films look (``morpho.chain.frontal_look``): the cues that refuse a film with
no view in its header as frontal, its mirror symmetry about the spine
(``morpho.label.view.column_symmetry``) and the landmark network's median spread.

Measures every radiograph in each FOLDER (recursive) as lateral with the default model,
optionally re-encoded first as an 8-bit JPEG export ``--export`` px on the short side, and
prints per folder: films, median and highest symmetry and spread, how many are over the
symmetry limit and how many the chain refuses (both limits).

    python analysis/view_symmetry.py FOLDER [FOLDER ...] [--export 320] [--out table.csv]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from rich.progress import track

from morpho.chain import FRONTAL_SPREAD, FRONTAL_SYMMETRY, frontal_look
from morpho.errors import MorphoError
from morpho.io import read_radiograph
from morpho.io.files import find_images
from morpho.label.view import column_symmetry
from morpho.pipeline import measure_image
from morpho.synth.realism import jpeg_export


def film_reading(path: Path, segmenter: object, export: int | None, scratch: Path) -> dict:
    """Symmetry, median spread and whether ``frontal_look`` refuses one film measured as
    lateral (NaN where it cannot be measured)."""
    if export:
        pixels = read_radiograph(path).pixels
        small, _ = jpeg_export(pixels, np.zeros(pixels.shape, np.uint8), export)
        path = scratch / f"{path.stem}.jpg"
        cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, 90])
    try:
        radiograph, _, table = measure_image(path, segmenter=segmenter, view="lateral")
    except MorphoError as exc:
        print(f"skipped {path.name}: {exc.cause}")
        return {"symmetry": np.nan, "spread": np.nan, "refused": 0}
    spread = table["landmark_spread"].median() if table["landmark_spread"].notna().any() else np.nan
    return {"symmetry": column_symmetry(radiograph.pixels, table), "spread": spread,
            "refused": int(frontal_look(radiograph.pixels, table) is not None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", type=Path, nargs="+")
    ap.add_argument("--export", type=int, help="re-encode as JPEG this many px on the short side")
    ap.add_argument("--out", type=Path, help="write one row per film")
    args = ap.parse_args()
    from morpho.segment.infer import Segmenter

    segmenter = Segmenter(spine_only=False)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for folder in args.folders:
            for path in track(sorted(find_images(folder)), description=folder.name):
                reading = film_reading(path, segmenter, args.export, Path(scratch))
                rows.append({"folder": folder.name, "film": path.name, **reading})
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    print(f"limits (morpho.chain): symmetry over {FRONTAL_SYMMETRY} with a median spread over "
          f"{FRONTAL_SPREAD}")
    for folder, films in table.groupby("folder", sort=False):
        s, spread = films["symmetry"], films["spread"]
        print(f"{folder}: {len(s)} films, {int(s.isna().sum())} without a reading; symmetry "
              f"median {s.median():.2f}, highest {s.max():.2f}; spread median "
              f"{spread.median():.2f}, highest {spread.max():.2f}; over the symmetry limit "
              f"{int((s > FRONTAL_SYMMETRY).sum())}, refused {int(films['refused'].sum())}")


if __name__ == "__main__":
    main()
