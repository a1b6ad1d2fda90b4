"""Fracture calls of one or more models on four kinds of film, side by side in one run.

For each MODEL (ONNX; default: the shipped one), with the same measuring code:

- held-out-CT DRRs: the test splits of ``data/synth-fract`` and ``data/synth`` (verse012, a
  CT no model trained on), grade >= 2 sensitivity and specificity against the grade each
  body was built with (intact = built grade 0 and not deformed by the truth's own six
  points), gradable bodies, Ha / Hm / Hp MAPE on gradable intact bodies;
- phantoms rendered in memory (``--phantoms 24 --seed 5``, fracture rate 0.3), the same;
- a proxy for real films: the val split of ``data/synth-v2`` (realism DRRs of the training
  CTs, no fracture) exported as 8-bit JPEGs ``--export`` px on the short side; every grade
  2-3 call there is false, so it prints the share of graded bodies called 2-3;
- a held-out proxy for real films: the test split of ``data/synth-v2`` (realism DRRs of the
  held-out CT, no fracture), exported the same way; the share of graded bodies called 2-3
  counts the intact ones only (the CT's own deformed L1 is a true call);
- where they have been rendered, two larger proxies exported the same way (intact bodies
  only), 240 films each, which tell models apart where the small sets cannot:
  ``data/synth-ho`` (``morpho synth drr --ct ../shared/data/ct/verse012 --out
  data/synth-ho --n 240 --test verse012 --workers 2 --seed 21``: the held-out CT, T10-L3)
  and ``data/synth-lidc`` (``--ct ../shared/data/ct/lidc-idri-0001 --test lidc-idri-0001
  --seed 31``, the rest the same: the chest CT the models trained on, T1-L3, new poses and
  exposures);
- where they have been rendered, two larger held-out fractured sets at full size, 96 films
  and 193 / 164 bodies built grade >= 2 each (``data/synth-fract-ho``, plain, and
  ``data/synth-fract-ho-v2``, realism; how to render them: ``screening_benchmark.py``):
  the 28 fractures of the first set move by two calls under a hair's change of the
  weights (``seg_perturb.py``), these by much less.

Heights are given as MAPE and as the median signed error (a bias: outlines short or long).
``--exact`` adds the same four sets measured on their exact masks, which separates what
the model's outlines cost from what the measuring does. With two or more models, each
later model's line is followed by the change in its share called 2-3 against the first
model's, with a 95% interval from a paired bootstrap over the films (films are the unit
that varies: these sets hold 24-240 of them); on the larger fractured sets, the change in
grade >= 2 sensitivity the same way. ``--small-sides 0 512`` compares settings of
``measure.SMALL_SIDE`` the same way (0: small films measured as they are, not enlarged).

    python analysis/screening_sets.py [MODEL ...] [--exact] [--phantoms 24] [--seed 5] \
        [--export 320] [--only-large] [--small-sides 0 512]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from screening_benchmark import (  # noqa: E402
    HEIGHTS,
    measure_film,
    phantom_films,
    synth_films,
)

from morpho import measure  # noqa: E402
from morpho.segment.infer import Segmenter, default_model_path  # noqa: E402

LARGE_PROXIES = ("synth-ho", "synth-lidc")
LARGE_FRACTURED = ("synth-fract-ho", "synth-fract-ho-v2")


def matched(films: Iterable[tuple], segmenter: Segmenter | None, export: int | None
            ) -> pd.DataFrame:
    """Whole true bodies of all films with what the model's masks (without a
    ``segmenter``: the exact masks) measured for them."""
    rows = []
    for image, pixels, mask, truth, spacing in films:
        m, _ = measure_film(pixels, mask, truth.assign(image=image), spacing, segmenter,
                            export, image)  # fmt: skip
        rows.append(m)
    return pd.concat(rows, ignore_index=True)


def graded_and_called(m: pd.DataFrame, intact_only: bool = False
                      ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per true body: graded (among the intact ones only, with ``intact_only``), called
    grade 2-3, and intact (built grade 0 and not deformed by the truth's own points)."""
    graded = m["genant_type"].notna() & (m["genant_type"] != "ungradable")
    intact = (m["fracture_grade"] == 0) & (m["own_grade"] < 2)
    return graded & intact if intact_only else graded, m["genant_grade"].fillna(-1) >= 2, intact


def line(name: str, m: pd.DataFrame, intact_only: bool = False) -> str:
    """One set's summary; ``intact_only``: the share called 2-3 among intact bodies."""
    found = m["genant_type"].notna()
    graded, called, intact = graded_and_called(m)
    positive = m["fracture_grade"] >= 2
    share = called[graded & intact].mean() if intact_only else called[graded].mean()
    text = f"{name}: gradable {graded.sum()} of {found.sum()} found"
    if positive.any():
        text += (f", grade >= 2 sensitivity {called[positive].mean():.3f} (n={positive.sum()}),"
                 f" specificity {(~called[intact]).mean():.3f} (n={intact.sum()})")
    sel = m[graded & intact]
    error = [100 * (sel[h] / sel[f"{h}_true"] - 1) for h in HEIGHTS]
    mape = " / ".join(f"{np.mean(np.abs(e)):.1f}" for e in error)
    bias = " / ".join(f"{np.median(e):+.1f}" for e in error)
    which = "graded intact" if intact_only else "graded"
    own = (m["own_grade"] >= 2) & ~positive  # the CT's own deformed bodies (true calls)
    mine = f"; its own deformed bodies called {called[own].sum()} of {own.sum()}" if (
        intact_only and own.any()) else ""
    return (text + f", {which} called 2-3 {share:.1%}{mine}; intact Ha / Hm / Hp MAPE "
            f"{mape}%, median error {bias}%")


def paired_change(first: pd.DataFrame, other: pd.DataFrame, parts, draws: int = 4000,
                  seed: int = 0) -> tuple[float, float, float, int]:
    """The change in a ratio of body counts (``parts(m)``: numerator and denominator
    masks) from ``first`` to ``other`` (the same films), with the 2.5 and 97.5 percentiles
    of a paired bootstrap over the films, and the number of films."""
    counts = []
    for m in (first, other):
        top, bottom = parts(m)
        film = m["image_true"] if "image_true" in m else m["image"]  # set for unfound bodies
        counts.append(pd.DataFrame({"top": top & bottom, "bottom": bottom, "image": film})
                      .groupby("image")[["top", "bottom"]].sum())
    a, b = counts[0].align(counts[1], join="inner")
    picks = np.random.default_rng(seed).integers(0, len(a), (draws, len(a)))

    def ratio(t: pd.DataFrame, k: np.ndarray) -> np.ndarray:
        return t["top"].to_numpy()[k].sum(axis=-1) / t["bottom"].to_numpy()[k].sum(axis=-1)

    change = ratio(b, np.arange(len(b))) - ratio(a, np.arange(len(a)))
    lo, hi = np.percentile(ratio(b, picks) - ratio(a, picks), [2.5, 97.5])
    return float(change), float(lo), float(hi), len(a)


def called_share_change(first: pd.DataFrame, other: pd.DataFrame, intact_only: bool) -> str:
    """The change in the share of graded bodies called 2-3 from ``first`` to ``other``."""

    def parts(m: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        graded, called, _ = graded_and_called(m, intact_only)
        return called, graded

    change, lo, hi, n = paired_change(first, other, parts)
    return (f"  called 2-3 against the first run: {100 * change:+.1f} points "
            f"(95% CI {100 * lo:+.1f} to {100 * hi:+.1f}, {n} films)")


def sensitivity_change(first: pd.DataFrame, other: pd.DataFrame) -> str:
    """The change in grade >= 2 sensitivity from ``first`` to ``other``."""
    change, lo, hi, n = paired_change(
        first, other, lambda m: (graded_and_called(m)[1], m["fracture_grade"] >= 2))
    return (f"  sensitivity against the first run: {change:+.3f} "
            f"(95% CI {lo:+.3f} to {hi:+.3f}, {n} films)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path, default=[default_model_path()])
    ap.add_argument("--phantoms", type=int, default=24)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--export", type=int, default=320)
    ap.add_argument("--exact", action="store_true", help="also measure the exact masks")
    ap.add_argument("--only-large", action="store_true",
                    help="only the large sets (the 240-film proxies, the 96-film fractured)")
    ap.add_argument("--small-sides", type=int, nargs="+", default=[measure.SMALL_SIDE],
                    help="measure.SMALL_SIDE settings to compare (0: small films as they are)")
    args = ap.parse_args()
    first: dict[str, pd.DataFrame] = {}
    runs = [(model, side) for model in args.models for side in args.small_sides]
    runs += [(None, measure.SMALL_SIDE)] if args.exact else []  # exact masks: no probability
    for model, side in runs:
        measure.SMALL_SIDE = side
        segmenter = None if model is None else Segmenter(model, spine_only=False)
        print(f"== {model} ({segmenter.model_version})" if segmenter else "== exact masks",
              f"SMALL_SIDE {side}" if len(args.small_sides) > 1 else "", flush=True)
        sets = {
            "held-out-CT DRRs": ([*synth_films(Path("data/synth-fract"), "test"),
                                  *synth_films(Path("data/synth"), "test")], None, False),
            f"phantoms ({args.phantoms})": (phantom_films(args.phantoms, 0.3, args.seed),
                                            None, False),
            f"realism DRRs, {args.export}-px JPEG": (
                synth_films(Path("data/synth-v2"), "val"), args.export, False),
            f"held-out-CT realism DRRs, {args.export}-px JPEG": (
                synth_films(Path("data/synth-v2"), "test"), args.export, True),
            **{f"{folder} (240 realism DRRs), {args.export}-px JPEG": (
                synth_films(Path("data") / folder, "test"), args.export, True)
               for folder in LARGE_PROXIES if (Path("data") / folder).is_dir()},
            **{f"{folder} (96 fractured DRRs)": (
                synth_films(Path("data") / folder, "test"), None, False)
               for folder in LARGE_FRACTURED if (Path("data") / folder).is_dir()},
        }  # fmt: skip
        for name, (films, export, intact_only) in sets.items():
            if args.only_large and "240" not in name and "96" not in name:
                continue
            m = matched(films, segmenter, export)
            print(line(name, m, intact_only), flush=True)
            if name not in first:
                first[name] = m
            elif model is not None:
                print(called_share_change(first[name], m, intact_only), flush=True)
                if "96" in name:
                    print(sensitivity_change(first[name], m), flush=True)

if __name__ == "__main__":
    main()
