"""A contact sheet of bodies from a synthetic set: the truth's six points (green), the
points from the outline and the film's edges (blue) and the landmark network's (red).

    python analysis/landmark_sheet.py data/synth-fract-ho --out docs/landmarks.jpg

Bodies built grade >= 2 first, then intact ones, from the test split, measured with the
default model's masks both ways; each tile is the landmark network's own crop (anterior
to the left), enlarged 2x and labelled with the level, the built grade and the grade each
way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screening_benchmark import synth_films  # noqa: E402

from morpho.landmarks import SIDE, body_crop  # noqa: E402
from morpho.measure import measure_mask, six_points  # noqa: E402
from morpho.preprocess import PreprocessConfig, equalised  # noqa: E402
from morpho.segment.infer import Segmenter  # noqa: E402
from morpho.synth.truth import match_to_truth  # noqa: E402

COLOURS = {"truth": (0, 200, 0), "before": (255, 120, 0), "after": (0, 0, 255)}


def tile(film: np.ndarray, rows: dict[str, pd.Series], label: str) -> np.ndarray:
    """One body's crop, 2x, with each set of points as a quadrilateral and dots."""
    truth = six_points(rows["truth"])
    crop, m = body_crop(film, truth, truth[0, 0] > truth[2, 0])
    out = cv2.cvtColor(cv2.resize(crop, (2 * SIDE, 2 * SIDE)), cv2.COLOR_GRAY2BGR)
    for name, row in rows.items():
        uv = 2 * (six_points(row) @ m[:, :2].T + m[:, 2])
        cv2.polylines(out, [np.round(uv[[0, 1, 2, 5, 4, 3]]).astype(np.int32)], True,
                      COLOURS[name], 1, cv2.LINE_AA)
        for u, v in uv:
            cv2.circle(out, (round(u), round(v)), 2, COLOURS[name], -1, cv2.LINE_AA)
    cv2.putText(out, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1,
                cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--out", type=Path, default=Path("landmarks.jpg"))
    ap.add_argument("--films", type=int, default=12)
    ap.add_argument("--columns", type=int, default=6)
    args = ap.parse_args()
    segmenter = Segmenter(spine_only=False)
    fractured, intact = [], []
    for k, (_, pixels, _, truth, spacing) in enumerate(synth_films(args.folder, "test")):
        if k == args.films:
            break
        mask, prob, cores = segmenter.segment_with_cores(pixels)
        tables = {name: match_to_truth(measure_mask(
            mask, probability=prob, pixels=pixels, cores=cores, spacing_mm=spacing,
            landmarks=lm), truth) for name, lm in (("before", None),
                                                  ("after", segmenter.landmarks))}
        film = equalised(pixels, PreprocessConfig())
        for _, t in truth[truth["complete"].astype(bool)].iterrows():
            rows = {"truth": t}
            grades = []
            for name, df in tables.items():
                hit = df[df["level"] == t["level"]]
                if hit.empty:
                    break
                rows[name] = hit.iloc[0]
                grades.append("-" if pd.isna(rows[name]["genant_grade"])
                              else str(int(rows[name]["genant_grade"])))
            else:
                label = f"{t['level']} built {t['fracture_grade']}: {' -> '.join(grades)}"
                (fractured if t["fracture_grade"] >= 2 else intact).append(
                    tile(film, rows, label))
    tiles = (fractured + intact)[: 2 * args.columns * 2]
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % args.columns)
    sheet = np.vstack([np.hstack(tiles[i:i + args.columns])
                       for i in range(0, len(tiles), args.columns)])
    legend = np.zeros((22, sheet.shape[1], 3), np.uint8)
    x = 6
    for name, text in (("truth", "truth (mid-sagittal)"), ("before", "outline + film edges"),
                       ("after", "landmark network")):
        cv2.putText(legend, text, (x, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, COLOURS[name], 1,
                    cv2.LINE_AA)
        x += 12 * len(text)
    cv2.putText(legend, "label: level, built grade: grade before -> after ('-': not graded)",
                (x, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA)
    sheet = np.vstack([sheet, legend])
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"{len(fractured)} fractured and {len(intact)} intact bodies; sheet in {args.out}")


if __name__ == "__main__":
    main()
