"""Does a reduced-resolution decode change the model's answer? Full vs reduced, side by side.

For AASCE test films (baseline JPEG, so ``morpho batch`` decodes them at 1/2 or 1/4 size by
default), segments each film from the full decode and from the reduced one with the same
model, and prints the Dice between the two masks and how often the body counts agree.

    python analysis/batch_reduced_agreement.py [MODEL ...] [--n 20] [--upscale 2]

AASCE films are small enough to decode whole; ``--upscale 2`` first writes each one as a
JPEG (quality 95) at twice its size in a temporary folder, a chest-film-sized stand-in that
then decodes at 1/2.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from morpho.batch.chain import ChainWorker  # noqa: E402
from morpho.batch.items import BatchItem  # noqa: E402
from morpho.datasets.aasce import fixed_split  # noqa: E402
from morpho.measure import measure_mask  # noqa: E402
from morpho.resources import shared_data_dir  # noqa: E402


def agreement(model: str | None, names: list[str], root: Path) -> str:
    full = ChainWorker(model, reduced=False, threads=1)
    reduced = ChainWorker(model, reduced=True, threads=1)
    dices, same, factors = [], 0, set()
    for name in names:
        item = BatchItem(key=name, path=str(root / name))
        loaded = reduced.load(item)
        if loaded.reduction.factor == 1:  # small enough to decode whole: nothing to compare
            continue
        a, _ = full.segment(full.load(item))
        b, _ = reduced.segment(loaded)
        factors.add(loaded.reduction.factor)
        dices.append(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))
        same += len(measure_mask(a, view="ap")) == len(measure_mask(b, view="ap"))
    if not dices:
        return f"{model or 'default model'}: none of {len(names)} films is decoded reduced"
    return (f"{model or 'default model'}: decode 1/{sorted(factors)}; Dice(full, reduced) mean "
            f"{np.mean(dices):.4f}, min {np.min(dices):.4f}; same body count "
            f"{same}/{len(dices)} (of {len(names)} films, {len(dices)} decoded reduced)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=[None])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--upscale", type=int, default=1, help="write the films this many times larger")
    args = ap.parse_args()
    names = sorted(n for n, part in fixed_split().items() if part == "test")[: args.n]
    root = shared_data_dir() / "aasce-ap" / "images"
    with tempfile.TemporaryDirectory() as tmp:
        if args.upscale > 1:
            for name in names:
                image = cv2.imread(str(root / name), cv2.IMREAD_GRAYSCALE)
                big = cv2.resize(image, None, fx=args.upscale, fy=args.upscale,
                                 interpolation=cv2.INTER_CUBIC)
                cv2.imwrite(str(Path(tmp) / name), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
            root = Path(tmp)
        for model in args.models:
            print(agreement(model, names, root))


if __name__ == "__main__":
    main()
