"""Screening figures: fracture calls against exact truth, and the call rate on any folder.

Synthetic sets (``morpho synth drr`` / ``phantom`` folders with ``dataset.json`` and
``truth.csv``; a split, default ``test``) are measured from their exact masks and, with
``--segment [MODEL]``, from the model's masks, at full size and with ``--export 320``
also as 8-bit JPEG exports 320 px on the short side (as public research exports come).
Prints per vertebra (against the grade each body was built with and, since a CT's own
bodies can be deformed, against the Genant grade of the truth's own six points) and per
film (a film is positive with any body built grade >= 2) sensitivity and specificity of
the calls at grade >= 1, 2, 3 (an ungradable body is not a call), the screening figure
(grade >= 2; intact = built 0 and the truth's own points below grade 2) with 95% intervals
from a bootstrap over the films, the ROC over the height-loss threshold (``height_loss``;
AUC), the ungradable share, and Ha/Hm/Hp MAPE on intact and fractured bodies against the
mid-sagittal truth. ``--phantoms N`` renders N fractured phantoms in memory instead. Any
other FOLDER (no truth) gets the share of graded bodies called grade 2-3 and the share not
gradable.

    python analysis/screening_benchmark.py data/synth-fract [--segment] [--export 320]
    python analysis/screening_benchmark.py --phantoms 60 [--fracture-rate 0.3]
    python analysis/screening_benchmark.py films/ [--mask masks/]

The 16 held-out films of ``data/synth-fract`` hold 28 bodies built grade >= 2: too few to
tell models apart (docs/VALIDATION.md). Larger held-out sets of the same kind (a CT never
trained on; 575 whole bodies each, 193 / 164 of them built grade >= 2):

    morpho synth drr --out data/synth-fract-ho --ct ../shared/data/ct/verse012 \
        --test verse012 --n 96 --fracture-rate 0.3 --seed 4001 --no-realism
    morpho synth drr --out data/synth-fract-ho-v2 --ct ../shared/data/ct/verse012 \
        --test verse012 --n 96 --fracture-rate 0.3 --seed 4002
    python analysis/screening_benchmark.py data/synth-fract-ho --segment [--export 320]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from rich.progress import track

from morpho.datasets.contract import load_dataset
from morpho.grade import subject_calls
from morpho.io import read_radiograph
from morpho.measure import measure_mask
from morpho.synth.realism import jpeg_export
from morpho.synth.truth import match_to_truth, truth_grades

HEIGHTS = ("ha_px", "hm_px", "hp_px")


def exported(pixels: np.ndarray, mask: np.ndarray, short: int
             ) -> tuple[np.ndarray, np.ndarray, float]:
    """An 8-bit JPEG export ``short`` px on the short side (``jpeg_export``), its mask
    (nearest) and the scale from original to exported pixels."""
    small, small_mask = jpeg_export(pixels, mask.astype(np.uint8), short)
    return small.astype(np.float32) / 255, small_mask > 0, small.shape[0] / pixels.shape[0]


def scaled_truth(truth: pd.DataFrame, scale: float) -> pd.DataFrame:
    """Truth positions and pixel heights in an export's pixels."""
    cols = [c for c in truth.columns if c.endswith(("_x", "_y", "_px")) or c in ("cx", "cy")]
    out = truth.copy()
    out[cols] = (truth[cols] + 0.5) * scale - 0.5
    out[list(HEIGHTS)] = truth[list(HEIGHTS)] * scale
    return out


def synth_films(folder: Path, split: str) -> Iterator[tuple[str, np.ndarray, np.ndarray,
                                                            pd.DataFrame, tuple | None]]:
    """(id, pixels, exact mask, truth, spacing) of each film of one split."""
    dataset = load_dataset(folder / "dataset.json")
    truth_all = pd.read_csv(folder / "truth.csv")
    for item in dataset.split(split):
        truth = truth_all[truth_all["image"] == item.id].reset_index(drop=True)
        mask = cv2.imread(str(item.mask), cv2.IMREAD_GRAYSCALE) > 0
        yield item.id, read_radiograph(item.image).pixels, mask, truth, item.spacing_mm


def phantom_films(n: int, rate: float, seed: int) -> Iterator[tuple]:
    from morpho.synth.phantom import PhantomParams, render_phantom

    rng = np.random.default_rng(seed)
    for k in range(n):
        params = PhantomParams.sample(rng, size=(512, 512), fracture_rate=rate)
        params = replace(params, size=(1024, 1024), pixel_mm=params.pixel_mm / 2)
        synth = render_phantom(params)
        yield (f"phantom{k}", synth.image, synth.mask, synth.truth.reset_index(drop=True),
               (synth.pixel_mm,) * 2)


def measure_film(pixels, mask, truth, spacing, segmenter, export: int | None,
                 image: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measured bodies matched to the truth (whole bodies only) and the film's calls."""
    if export:
        pixels, mask, scale = exported(pixels, mask, export)
        truth = scaled_truth(truth, scale)
        spacing = None if spacing is None else tuple(s / scale for s in spacing)
    truth = truth.assign(own_grade=truth_grades(truth))
    prob = cores = None
    if segmenter is not None:
        mask, prob, cores = segmenter.segment_with_cores(pixels)
    df = measure_mask(mask, spacing_mm=spacing, spacing_source="truth", probability=prob,
                      pixels=pixels, image=image, cores=cores,
                      landmarks=getattr(segmenter, "landmarks", None))
    if "height_loss" not in df:  # tables from before the column: Genant's raw loss
        df["height_loss"] = 1 - df[["wedge_ratio", "biconcave_ratio", "crush_ratio"]].min(axis=1)
    calls = subject_calls(df) if len(df) else pd.DataFrame()
    matched = match_to_truth(df, truth) if len(df) else df
    m = truth.merge(matched, on="level", how="left", suffixes=("_true", ""))
    return m[m["complete"].astype(bool)], calls


def rates(m: pd.DataFrame, grade: int, truth: str = "fracture_grade"
          ) -> tuple[float, float, int, int]:
    """Sensitivity (true >= grade called >= grade) and specificity (true 0 not called)."""
    called = m["genant_grade"].fillna(-1).astype(int) >= grade
    pos, neg = m[truth] >= grade, m[truth] == 0
    return called[pos].mean(), (~called[neg]).mean(), int(pos.sum()), int(neg.sum())


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney; NaN scores rank lowest)."""
    s = np.nan_to_num(score, nan=-np.inf)
    ranks = pd.Series(s).rank().to_numpy()
    n1, n0 = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / max(n1 * n0, 1))


def report_roc(m: pd.DataFrame, pos: np.ndarray, keep: np.ndarray) -> None:
    """ROC over the height-loss threshold, built >= 2 against intact bodies."""
    score = m["height_loss"].where(m["genant_grade"].notna()).to_numpy(float)
    print(f"ROC over the height-loss threshold (built >= 2 vs intact): AUC "
          f"{roc_auc(score[keep], pos[keep]):.3f}; thresholds:")
    for t in (0.15, 0.2, 0.25, 0.3, 0.35):
        called = np.nan_to_num(score, nan=-1) >= t
        print(f"  loss >= {t:.2f}: sensitivity {called[pos].mean():.3f}, "
              f"specificity {(~called[keep & ~pos]).mean():.3f}")


def screening_line(m: pd.DataFrame, draws: int = 2000) -> str:
    """The screening figure: sensitivity at grade >= 2 over bodies built grade >= 2 and
    specificity over intact bodies (built grade 0 and the truth's own six points below
    grade 2), each with a 95% interval from a bootstrap over the films."""
    called = (m["genant_grade"].fillna(-1) >= 2).to_numpy()
    pos = (m["fracture_grade"] >= 2).to_numpy()
    intact = ((m["fracture_grade"] == 0) & (m["own_grade"] < 2)).to_numpy()
    rows = m.groupby("image_true").indices
    groups = list(rows.values())
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(draws):
        pick = np.concatenate([groups[i] for i in rng.integers(len(groups), size=len(groups))])
        boot.append((called[pick][pos[pick]].mean(), (~called[pick][intact[pick]]).mean()))
    low, high = np.nanpercentile(np.array(boot), [2.5, 97.5], axis=0)
    return (f"screening, grade >= 2: sensitivity {called[pos].mean():.3f} ({low[0]:.3f}-"
            f"{high[0]:.3f}, n={pos.sum()}), specificity among intact bodies "
            f"{(~called[intact]).mean():.3f} ({low[1]:.3f}-{high[1]:.3f}, n={intact.sum()}); "
            f"95% intervals over {len(groups)} films")


def report_truth(m: pd.DataFrame, films: pd.DataFrame, label: str) -> None:
    found = m["genant_type"].notna()
    print(f"\n== {label}: {films['image'].nunique()} films, whole true bodies {len(m)}, "
          f"found {found.sum()}, ungradable {(m['genant_type'] == 'ungradable').sum()}")
    for grade in (1, 2, 3):
        sens, spec, npos, nneg = rates(m, grade)
        print(f"per vertebra, grade >= {grade}: sensitivity {sens:.3f} (n={npos}), "
              f"specificity {spec:.3f} (n={nneg})")
    sens, spec, npos, nneg = rates(m, 2, "own_grade")
    print(f"per vertebra, grade >= 2, against the grade of the truth's own six points (a CT's "
          f"own deformities count): sensitivity {sens:.3f} (n={npos}), specificity "
          f"{spec:.3f} (n={nneg})")
    pos = (m["fracture_grade"] >= 2).to_numpy()
    keep = pos | (m["fracture_grade"] == 0).to_numpy()
    if pos.any():
        print(screening_line(m))
        report_roc(m, pos, keep)
    film_pos = m.groupby("image_true")["fracture_grade"].max() >= 2
    film_call = films.set_index("image")["any_grade2"].reindex(film_pos.index).fillna(False)
    print(f"per film (any body >= 2): sensitivity {film_call[film_pos].mean():.3f} "
          f"(n={film_pos.sum()}), specificity {(~film_call[~film_pos]).mean():.3f} "
          f"(n={(~film_pos).sum()})")
    for name, rows in (("intact", m["fracture_grade"] == 0),
                       ("fractured", m["fracture_grade"] > 0)):
        sel = m[rows & found]
        mape = [100 * np.mean(np.abs(sel[h] / sel[f"{h}_true"] - 1)) for h in HEIGHTS]
        print(f"MAPE vs mid-sagittal truth, {name} (n={len(sel)}): Ha {mape[0]:.1f}%, "
              f"Hm {mape[1]:.1f}%, Hp {mape[2]:.1f}%")
    if "points_source" in m:
        print("points: " + ", ".join(f"{k} {v}" for k, v in
                                      m.loc[found, "points_source"].value_counts().items()))


def run_truth(films: Iterator[tuple], segmenter, export: int | None, label: str) -> None:
    matched, calls = [], []
    for image, pixels, mask, truth, spacing in track(list(films), description=label):
        truth = truth.assign(image=image)
        m, c = measure_film(pixels, mask, truth, spacing, segmenter, export, image)
        matched.append(m)
        calls.append(c)
    report_truth(pd.concat(matched, ignore_index=True), pd.concat(calls, ignore_index=True),
                 label)


def measure_folder(folder: Path, masks: Path | None) -> pd.DataFrame:
    """The measurements table `morpho measure` writes for the films of ``folder`` (with
    ``masks``: a folder of <stem>_mask.png); a film that fails is said and left out."""
    from morpho.cli import app

    with tempfile.TemporaryDirectory() as out:
        mask = ["--mask", str(masks)] if masks else []
        app(["measure", str(folder), "--out", out, *mask], standalone_mode=False)
        return pd.read_csv(Path(out) / "measurements.csv")


def run_folder(folder: Path, masks: Path | None) -> None:
    table = measure_folder(folder, masks).dropna(subset=["genant_type"])
    graded = table["genant_grade"].notna()
    print(f"{folder}: {table['image'].nunique()} films, {len(table)} bodies measured, "
          f"not gradable {(~graded).mean():.1%}, graded 2-3 "
          f"{(table.loc[graded, 'genant_grade'] >= 2).mean():.1%} of {graded.sum()} graded")
    calls = subject_calls(table)
    print(f"films with a grade 2-3 call: {int(calls['any_grade2'].sum())}/{len(calls)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?")
    ap.add_argument("--split", default="test")
    ap.add_argument("--segment", nargs="?", const="", default=None, metavar="MODEL")
    ap.add_argument("--export", type=int, help="also as JPEG exports this short side (px)")
    ap.add_argument("--mask", type=Path, help="masks for a folder without truth")
    ap.add_argument("--phantoms", type=int, help="render this many fractured phantoms")
    ap.add_argument("--fracture-rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.folder is not None and not (args.folder / "truth.csv").is_file():
        run_folder(args.folder, args.mask)
        return
    segmenters = [(None, "exact masks")]
    if args.segment is not None:
        from morpho.segment.infer import Segmenter

        segmenters.append((Segmenter(args.segment or None, spine_only=False), "model masks"))
    for export in (None, args.export) if args.export else (None,):
        for segmenter, name in segmenters:
            films = (phantom_films(args.phantoms, args.fracture_rate, args.seed)
                     if args.phantoms else synth_films(args.folder, args.split))
            size = f"{export} px export" if export else "full size"
            source = f"phantoms ({args.phantoms})" if args.phantoms else str(args.folder)
            run_truth(films, segmenter, export, f"{source}, {size}, {name}")


if __name__ == "__main__":
    main()
