"""How far do a vendor's processing and film grain move the screening figures? Side by side.

``--films`` test films of each set (evenly spaced) is exported as a small 8-bit JPEG (``--export``
px on the short side, as public research sets ship lateral films) and then processed once
more, as a site's display pipeline or a noisy detector might have left it: film grain,
local equalisation (CLAHE), unsharp masking, a darker or a lighter gamma, a harder JPEG.
Each variant is segmented once with the default body model and measured with each landmark
model given (default: the shipped one), and one line per set, variant and landmark model
prints the screening figures of ``screening_sets.line`` (sensitivity on the fractured
sets; the share of intact graded bodies called 2-3; intact height MAPE).

    python analysis/film_processing.py [LANDMARKS.onnx ...] [--sets data/synth-fract-ho \
        data/synth-lidc] [--films 48] [--export 320] [--variants grain equalised]

The films already carry one vendor processing (``morpho synth drr --realism``); these
variants add a second, so they are a stress test, not a model of any one site.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rich.progress import track  # noqa: E402
from screening_benchmark import exported, scaled_truth, synth_films  # noqa: E402
from screening_sets import line  # noqa: E402

from morpho.datasets.contract import load_dataset  # noqa: E402
from morpho.landmarks import LandmarkModel  # noqa: E402
from morpho.measure import measure_mask  # noqa: E402
from morpho.segment.infer import Segmenter, default_landmarks  # noqa: E402
from morpho.synth.truth import match_to_truth, truth_grades  # noqa: E402

INTACT_ONLY = {"synth-lidc", "synth-ho"}  # the 240-film proxies: report intact bodies' calls


def _grain(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x + rng.normal(0, 0.03, x.shape)


def _equalised(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    clahe = cv2.createCLAHE(4.0, (4, 4))
    return clahe.apply((np.clip(x, 0, 1) * 255).astype(np.uint8)) / 255.0


def _unsharp(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return x + 1.0 * (x - cv2.GaussianBlur(x, (0, 0), 4.0))


VARIANTS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "as exported": lambda x, rng: x,
    "grain": _grain,
    "equalised": _equalised,
    "unsharp": _unsharp,
    "gamma 0.6": lambda x, rng: x**0.6,
    "gamma 1.6": lambda x, rng: x**1.6,
}
QUALITY = {"jpeg 60": 60}  # variants that differ only in the JPEG quality they are saved at


def as_file(x: np.ndarray, quality: int = 90) -> np.ndarray:
    """``x`` (0-1) saved as an 8-bit JPEG of ``quality`` and read back (0-1, float32)."""
    grey = (np.clip(x, 0, 1) * 255).round().astype(np.uint8)
    _, data = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255


def films(folder: Path, n: int, export: int):
    """(id, exported film 0-1, truth in its pixels, spacing) of ``n`` test films, evenly
    spaced through the split."""
    total = sum(1 for item in load_dataset(folder / "dataset.json").split("test"))
    picks = set(np.linspace(0, total - 1, min(n, total)).round().astype(int).tolist())
    for k, (image, pixels, mask, truth, spacing) in enumerate(synth_films(folder, "test")):
        if k not in picks:
            continue
        small, _, scale = exported(pixels, mask, export)
        truth = scaled_truth(truth, scale).assign(own_grade=truth_grades(truth), image=image)
        yield image, small, truth, None if spacing is None else tuple(s / scale for s in spacing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("landmarks", nargs="*", type=Path, help="landmark models (.onnx)")
    ap.add_argument("--sets", nargs="+", type=Path, default=[Path(f"data/{name}") for name in (
        "synth-fract-ho", "synth-fract-ho-v2", "synth-ho", "synth-lidc")])
    ap.add_argument("--films", type=int, default=48, help="test films per set")
    ap.add_argument("--export", type=int, default=320, help="short side of the exports")
    ap.add_argument("--variants", nargs="+", default=[*VARIANTS, *QUALITY])
    args = ap.parse_args()
    models = {"shipped": default_landmarks(1)} if not args.landmarks else {
        str(p): LandmarkModel(p) for p in args.landmarks}
    segmenter = Segmenter(spine_only=False)
    for folder in args.sets:
        rows: dict[tuple[str, str], list[pd.DataFrame]] = {}
        rng = np.random.default_rng(0)
        for image, small, truth, spacing in track(
                list(films(folder, args.films, args.export)), description=folder.name):
            for variant in args.variants:
                process = VARIANTS.get(variant, VARIANTS["as exported"])
                pixels = as_file(process(small, rng), QUALITY.get(variant, 90))
                mask, prob, cores = segmenter.segment_with_cores(pixels)
                for tag, model in models.items():
                    df = measure_mask(mask, spacing_mm=spacing, spacing_source="truth",
                                      probability=prob, pixels=pixels, image=image,
                                      cores=cores, landmarks=model)
                    matched = match_to_truth(df, truth) if len(df) else df
                    m = truth.merge(matched, on="level", how="left", suffixes=("_true", ""))
                    rows.setdefault((variant, tag), []).append(m[m["complete"].astype(bool)])
        for (variant, tag), parts in rows.items():
            name = f"{folder.name} {variant} [{Path(tag).parent.name or tag}]"
            print(line(name, pd.concat(parts, ignore_index=True), folder.name in INTACT_ONLY),
                  flush=True)


if __name__ == "__main__":
    main()
