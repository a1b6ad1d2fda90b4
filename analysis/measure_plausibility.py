"""Plausible body outlines (issue 24 item 5) on any folder of lateral films.

Measures every radiograph in FOLDER (recursive) with the default model, or with the
``<stem>_mask.png`` masks in ``--mask DIR`` (their ``_prob.png`` beside them when there),
and prints, per film and over all: bodies measured, plausible bodies (posterior height /
depth in 0.55-1.25, posterior height / median of up to two neighbours each side in
0.75-1.33), gradable bodies and bodies graded 2-3.

    python analysis/measure_plausibility.py FOLDER [--mask DIR] [--out table.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import track

from morpho.errors import MorphoError
from morpho.io.files import find_images
from morpho.measure import plausibility_summary
from morpho.pipeline import measure_image

ENOUGH = 8  # films with at least this many plausible bodies are counted (issue 24's goal)


def measure_folder(folder: Path, masks: Path | None) -> pd.DataFrame:
    """The measurements table of every film in ``folder`` (failures skipped, said)."""
    segmenter = None
    if masks is None:
        from morpho.segment.infer import Segmenter

        segmenter = Segmenter(spine_only=False)
    tables = []
    for path in track(sorted(find_images(folder)), description="films"):
        mask = None if masks is None else masks / f"{path.stem}_mask.png"
        try:
            _, _, df = measure_image(path, segmenter=segmenter, mask=mask)
        except MorphoError as exc:
            print(f"skipped {path}: {exc}")
            continue
        tables.append(df.assign(image=path.stem) if len(df) else
                      pd.DataFrame({"image": [path.stem], "plausible": [np.nan]}))
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--mask", type=Path, help="folder of <stem>_mask.png masks")
    ap.add_argument("--out", type=Path, help="write the measurements table")
    args = ap.parse_args()
    table = measure_folder(args.folder, args.mask)
    if args.out:
        table.to_csv(args.out, index=False)
    bodies = table.dropna(subset=["plausible"])
    per_film = plausibility_summary(bodies).set_index("image").reindex(
        table["image"].unique(), fill_value=0)
    print(per_film.to_string(float_format=lambda x: f"{x:.2f}"))
    graded = bodies["genant_grade"].notna()
    print(f"films: {len(per_film)}; bodies measured: {len(bodies)}; plausible: "
          f"{int(bodies['plausible'].astype(bool).sum())} "
          f"({bodies['plausible'].astype(bool).mean():.1%}); plausible bodies per film: "
          f"median {per_film['plausible'].median():.0f}; films with >= {ENOUGH}: "
          f"{int((per_film['plausible'] >= ENOUGH).sum())}/{len(per_film)}")
    print(f"gradable: {int(graded.sum())} ({graded.mean():.1%} of measured); graded 2-3: "
          f"{int((bodies['genant_grade'] >= 2).sum())} "
          f"({(bodies.loc[graded, 'genant_grade'] >= 2).mean():.1%} of graded)")


if __name__ == "__main__":
    main()
