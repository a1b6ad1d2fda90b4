"""Why lateral films get no suggested levels: body sizes against a typical-size table.

For every film of the given splits (exact masks, the labelling's own bodies, whole ones
matched to the truth's levels), aligns the bodies' heights and depths (mask spans along
and across the spine, in mm at the dataset's spacing) with typical adult lateral sizes by
level (Panjabi et al. 1991, 1992; the table `morpho.label.TYPICAL_MM` held before lateral
films lost the suggestion), as ``morpho.label.suggest_levels`` aligns AP widths. Prints,
per CT, the films whose every matched body it names right, the median level offset, its
mean confidence, and the spans' median ratio to the table at the true level (divided by
the film's magnification: what a magnification-corrected spacing gives).

    python analysis/label_levels_lateral.py data/synth/dataset.json --splits train test
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from screening_benchmark import synth_films

from morpho.label import LEVELS, label_bodies, suggest_levels
from morpho.label.geometry import span
from morpho.synth.truth import match_to_truth

LATERAL_MM = {  # C3..S1: body height and sagittal depth
    "height": [14, 14, 14, 14, 15, 16, 17, 17.5, 18, 18.5, 19, 19.5, 20, 21, 22, 23, 24.5,
               25.5, 26.5, 27, 27, 26.5, 25],
    "depth": [15, 15.5, 15.5, 16, 16, 16, 17, 18, 19.5, 21, 22.5, 24, 25.5, 27, 28.5, 29.5,
              31, 33, 34, 35, 35.5, 35.5, 35],
}


def film_row(mask: np.ndarray, truth: pd.DataFrame, spacing: tuple, magnification: float,
             table: dict) -> dict | None:
    """One film: suggested names against the truth's, and the spans' ratio to the table."""
    bodies = label_bodies(mask).vertebrae
    if len(bodies) < 3:
        return None
    sizes = {"height": [], "depth": []}
    for b in bodies:
        t = np.asarray(b.tangent)
        sizes["height"].append(span(b.rows, b.cols, t) * np.mean(spacing))
        sizes["depth"].append(span(b.rows, b.cols, np.array([t[1], -t[0]])) * np.mean(spacing))
    sizes = {k: np.array(v) for k, v in sizes.items()}
    names, confidence = suggest_levels(sizes, [1] * len(bodies), absolute=True,
                                       sd=0.08, table=table)
    centres = pd.DataFrame({"index": range(1, len(bodies) + 1),
                            "cx": [b.centre[0] for b in bodies],
                            "cy": [b.centre[1] for b in bodies]})
    matched = match_to_truth(centres, truth)
    if matched.empty:
        return None
    k = matched["index"].to_numpy() - 1
    true = [LEVELS.index(level) for level in matched["level"]]
    offsets = [LEVELS.index(names[i]) - t for i, t in zip(k, true, strict=True)]
    ratio = [sizes["height"][i] / magnification / table["height"][t - 2]
             for i, t in zip(k, true, strict=True)]
    return {"right": all(o == 0 for o in offsets), "offset": float(np.median(offsets)),
            "confidence": confidence, "height_ratio": float(np.median(ratio))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", type=Path, nargs="+")
    ap.add_argument("--splits", nargs="+", default=["test"])
    args = ap.parse_args()
    rows = []
    for path in args.datasets:
        items = {item["id"]: item for item in json.loads(path.read_text())["items"]}
        for split in args.splits:
            for image, _, mask, truth, spacing in synth_films(path.parent, split):
                item = items[image]
                row = film_row(mask, truth, spacing, item.get("magnification") or 1.0,
                               LATERAL_MM)
                if row:
                    rows.append({"ct": item.get("source", path.parent.name), **row})
    df = pd.DataFrame(rows)
    for ct, g in df.groupby("ct"):
        print(f"{ct}: {len(g)} films, named right {int(g['right'].sum())}, median offset "
              f"{g['offset'].median():+.0f} levels, mean confidence {g['confidence'].mean():.2f}, "
              f"span / table height (magnification corrected) {g['height_ratio'].median():.2f}")
    print(f"all: {len(df)} films, named right {int(df['right'].sum())}, mean confidence "
          f"{df['confidence'].mean():.2f}")


if __name__ == "__main__":
    main()
