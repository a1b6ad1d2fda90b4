"""Does a reduced-resolution decode change the model's answer? Full vs reduced, side by side.

For AASCE test films (baseline JPEG, so ``morpho batch`` decodes them at 1/2 or 1/4 size by
default), segments each film from the full decode and from the reduced one with the same
model, and prints the Dice between the two masks and how often the body counts agree
(bodies as `morpho batch` measures them: ``morpho.chain.measure_film`` with the
probability and the decoded film).

    python analysis/batch_reduced_agreement.py [MODEL ...] [--n 20] [--upscale 2] \
        [--j2k] [--margins 2 1] [--details] [--dataset DATASET.json --split test --view lateral]

AASCE films are small enough to decode whole; ``--upscale 2`` first writes each one as a
JPEG (quality 95) at twice its size in a temporary folder, a chest-film-sized stand-in that
then decodes at 1/2. ``--j2k`` writes them as JPEG 2000 lossless DICOM (12 bit) instead,
which decodes through its resolution levels. ``--margins`` compares decode margins
(``ChainWorker.margin``, a model JSON's ``"decode_margin"``, else
``morpho.chain.DECODE_MARGIN``: decode at least this many times the network input; 1 =
decode at the network's own scale, the largest reduction). ``--dataset`` takes the first
``--n`` films of a split of any dataset JSON instead (e.g. the held-out-CT realism DRRs,
512 px: ``--upscale 4`` makes them 2048 px laterals), measured as ``--view``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import morpho.chain  # noqa: E402
from morpho.batch.chain import ChainWorker  # noqa: E402
from morpho.batch.items import BatchItem  # noqa: E402
from morpho.chain import film_calls, measure_film  # noqa: E402
from morpho.datasets.aasce import fixed_split  # noqa: E402
from morpho.datasets.contract import load_dataset  # noqa: E402
from morpho.io.writer import write_dicom  # noqa: E402
from morpho.resources import shared_data_dir  # noqa: E402


def agreement(model: str | None, names: list[str], root: Path, margin: int = 2,
              details: bool = False, view: str = "ap") -> str:
    """One line: mask Dice and body-count agreement between the full and the reduced decode
    (lateral films: also the film-level call and each graded body's grade); with
    ``details``, each film whose counts differ, body by body."""
    full = ChainWorker(model, reduced=False, threads=1, view=view)
    reduced = ChainWorker(model, reduced=True, threads=1, view=view)
    reduced.margin = margin
    dices, same, factors, same_call, graded = [], 0, set(), 0, np.zeros(2, int)
    for name in names:
        item = BatchItem(key=name, path=str(root / name))
        loaded = reduced.load(item)
        if loaded.reduction.factor == 1:  # small enough to decode whole: nothing to compare
            continue
        whole = full.load(item)
        (a, pa, _), (b, pb, _) = full.segment(whole), reduced.segment(loaded)
        factors.add(loaded.reduction.factor)
        dices.append(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))
        tables = [measure_film(film, worker.settings, mask=m, probability=p).table
                  for film, worker, m, p in ((whole, full, a, pa), (loaded, reduced, b, pb))]
        same += len(tables[0]) == len(tables[1])
        if view == "lateral":
            screened = [film_calls(t)["any_grade2"] for t in tables]
            same_call += screened[0] == screened[1]
            graded += _same_grades(*tables)
        if details and len(tables[0]) != len(tables[1]):
            print(f"  {name}: {len(tables[0])} bodies full, {len(tables[1])} reduced")
            for tag, table in zip(("full", "reduced"), tables, strict=True):
                for _, row in table.iterrows():
                    print(f"    {tag:7s} {row['level'] or '-':4s} cy {row['cy']:7.1f} "
                          f"Hp {row['hp_px']:6.1f} {row['qa'][:90]}")
    if not dices:
        return f"{model or 'default model'}: none of {len(names)} films is decoded reduced"
    return (f"{model or 'default model'} margin {margin}: decode 1/{sorted(factors)}; "
            f"Dice(full, reduced) mean "
            f"{np.mean(dices):.4f}, min {np.min(dices):.4f}; same body count "
            f"{same}/{len(dices)} (of {len(names)} films, {len(dices)} decoded reduced)"
            + (f"; same film call (any grade >= 2) {same_call}/{len(dices)}; same grade on "
               f"{graded[0]}/{graded[1]} bodies graded in both" if view == "lateral" else ""))


def _same_grades(full: pd.DataFrame, reduced: pd.DataFrame) -> np.ndarray:
    """(same grade, graded in both) over the bodies of the full decode that the reduced
    one also found (centres within a tenth of the body's height) and graded."""
    out = np.zeros(2, int)
    graded = reduced[reduced["genant_type"] != "ungradable"]
    for _, row in full[full["genant_type"] != "ungradable"].iterrows():
        near = np.hypot(graded["cx"] - row["cx"], graded["cy"] - row["cy"])
        if len(near) and near.min() < 0.1 * row["hp_px"]:
            match = graded["genant_grade"].iloc[int(np.argmin(near))]
            out += (int(match == row["genant_grade"]), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=[None])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--upscale", type=int, default=1, help="write the films this many times larger")
    ap.add_argument("--j2k", action="store_true", help="write JPEG 2000 lossless DICOM films")
    ap.add_argument("--margins", type=int, nargs="+", default=[morpho.chain.DECODE_MARGIN])
    ap.add_argument("--details", action="store_true", help="list the bodies where counts differ")
    ap.add_argument("--dataset", type=Path, help="a dataset JSON instead of the AASCE test part")
    ap.add_argument("--split", default="test", help="the --dataset split to take")
    ap.add_argument("--view", default="ap", choices=["ap", "lateral"], help="view to measure as")
    args = ap.parse_args()
    if args.dataset:
        images = [item.image for item in load_dataset(args.dataset).split(args.split)][: args.n]
        root, names = images[0].parent, [image.name for image in images]
    else:
        names = sorted(n for n, part in fixed_split().items() if part == "test")[: args.n]
        root = shared_data_dir() / "aasce-ap" / "images"
    with tempfile.TemporaryDirectory() as tmp:
        if args.upscale > 1 or args.j2k:
            names = [write_film(root / name, Path(tmp), args.upscale, args.j2k, args.view)
                     for name in names]
            root = Path(tmp)
        for model in args.models:
            for margin in args.margins:
                print(agreement(model, names, root, margin, args.details, args.view), flush=True)


def write_film(path: Path, folder: Path, upscale: int, j2k: bool, view: str = "ap") -> str:
    """``path`` upscaled, as a JPEG (quality 95) or a JPEG 2000 lossless DICOM; its name."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if upscale > 1:
        image = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    if not j2k:
        name = path.stem + ".jpg"  # a JPEG, whatever the source was (a DRR's PNG)
        cv2.imwrite(str(folder / name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        return name
    name = path.stem + ".dcm"
    write_dicom(folder / name, image.astype(np.uint16) * 16, spacing_mm=0.2, view=view,
                bits_stored=12, compression="jpeg2000")  # fmt: skip
    return name


if __name__ == "__main__":
    main()
