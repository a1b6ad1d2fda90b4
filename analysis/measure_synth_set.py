"""Morphometry on a written synthetic set (``morpho synth drr`` / ``phantom``) against its truth.

Each image of one split is measured from its exact body mask, or with ``--segment [MODEL]``
from the mask the model (default: the shipped one) predicts. Measured bodies are named after
the nearest true body, so a missed or extra body does not shift the rest. Prints the height
error against the truth's six points, and the Genant grade agreement and Cohen's kappa
against the grade each body was built with, and how often the facing is right (no first
level is given, so the curvature rule treats every film as a chest film; ``--no-image``
leaves out the image cue).

    python analysis/measure_synth_set.py data/synth-fract/dataset.json --split test [--segment]

A projection shows the whole body, so even exact DRR masks differ from the mid-sagittal truth
by anatomy, not only by measurement error; compare the two mask sources side by side.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from rich.progress import track

from morpho.datasets.contract import load_dataset
from morpho.grade import grade_kappa
from morpho.io import read_radiograph
from morpho.measure import measure_mask
from morpho.synth.truth import match_to_truth, truth_grades


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--segment", nargs="?", const="", default=None, metavar="MODEL")
    ap.add_argument("--no-image", action="store_true", help="facing from the mask alone")
    ap.add_argument("--out", type=Path, help="write the matched bodies (truth and measured)")
    args = ap.parse_args()
    segmenter = None
    if args.segment is not None:
        from morpho.segment.infer import Segmenter

        segmenter = Segmenter(args.segment or None, spine_only=False)
    dataset = load_dataset(args.dataset)
    truth_all = pd.read_csv(args.dataset.parent / "truth.csv")
    rows, found, total, facing_ok, sources = [], 0, 0, [], []
    for item in track(dataset.split(args.split), description=args.split):
        truth = truth_all[truth_all["image"] == item.id].reset_index(drop=True)
        truth["true_grade"] = truth_grades(truth)
        pixels = read_radiograph(item.image).pixels
        if segmenter is None:
            mask, prob = cv2.imread(str(item.mask), cv2.IMREAD_GRAYSCALE) > 0, None
        else:
            mask, prob = segmenter.segment(pixels)
        df = measure_mask(mask, spacing_mm=item.spacing_mm, spacing_source="truth",
                          probability=prob,
                          image=item.id, pixels=None if args.no_image else pixels,
                          landmarks=getattr(segmenter, "landmarks", None))
        true_facing = "left" if (truth["ant_sup_x"] < truth["post_sup_x"]).mean() > 0.5 else "right"
        if len(df):
            facing_ok.append(df["facing"].iloc[0] == true_facing)
            sources.append(df["facing_source"].iloc[0])
        df = match_to_truth(df, truth)
        merged = truth.merge(df, on="level", suffixes=("_true", ""))
        found += len(merged)
        total += len(truth)
        rows.append(merged[merged["complete"].astype(bool)])
    m = pd.concat(rows, ignore_index=True)
    if args.out:
        m.to_csv(args.out, index=False)
    ape = 100 * np.concatenate(
        [np.abs(m[h] / m[f"{h}_true"] - 1) for h in ("ha_px", "hm_px", "hp_px")])
    gradable = m["genant_grade"].notna()
    got = m.loc[gradable, "genant_grade"].astype(int).to_numpy()
    built = m.loc[gradable, "fracture_grade"].astype(int).to_numpy()
    source = "exact masks" if segmenter is None else f"model masks ({segmenter.model_version})"
    print(f"{args.dataset} / {args.split}, {source}")
    print(f"true bodies found: {found}/{total}; whole bodies measured: {len(m)}, "
          f"ungradable {(~gradable).sum()}")
    print(f"facing right: {sum(facing_ok)}/{len(facing_ok)} films (found by: "
          + ", ".join(f"{k} {v}" for k, v in Counter(sources).most_common()) + ")")
    print(f"height |error| (Ha, Hm, Hp): mean {ape.mean():.1f}%, median {np.median(ape):.1f}%, "
          f"within 10%: {(ape <= 10).mean():.1%}")
    print(f"Genant vs built grade: agreement {np.mean(got == built):.1%}, kappa "
          f"{grade_kappa(built, got):.3f}; fractured bodies graded >= 1: "
          f"{np.mean(got[built > 0] > 0):.1%} (n={(built > 0).sum()}), intact graded >= 1: "
          f"{np.mean(got[built == 0] > 0):.1%} (n={(built == 0).sum()})")
    print(f"  over all {len(m)} whole bodies, an ungradable one counted as a miss: "
          f"{np.sum(got == built) / max(len(m), 1):.1%}; ungradable by built grade: "
          + ", ".join(f"{g}: {n}" for g, n in
                      m.loc[~gradable, "fracture_grade"].value_counts().sort_index().items()))
    print(pd.crosstab(built, got, rownames=["built"], colnames=["got"]))
    own = m.loc[gradable, "true_grade"].astype(int).to_numpy()
    print(f"Genant vs the grade of the truth's own six points (real bodies are not all level: "
          f"{np.mean(own != built):.0%} of these differ from the built grade): agreement "
          f"{np.mean(got == own):.1%}, kappa {grade_kappa(own, got):.3f}")
    print(pd.crosstab(own, got, rownames=["truth's points"], colnames=["got"]))


if __name__ == "__main__":
    main()
