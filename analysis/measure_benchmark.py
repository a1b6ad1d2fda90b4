"""Milliseconds to measure one mask (label + measure), side by side on three kinds of mask.

    python analysis/measure_benchmark.py [--repeat N]

Rendered lateral spines (12 bodies, 700x400, 2500x2000 and 4238x3480 px, the size of a
full lateral chest film) and, when ../shared/data/aasce-ap is present, filled AASCE
annotations (17 bodies, ~1500x600 px). The two large masks are also timed with a body
probability, as the default model's path passes it (a mask over 2 x ``WORK_SIDE`` px is then
measured at a whole-number fraction of its size). When the default model is installed,
segmenting the same rendered images is timed in the same run and the ratios printed, and
so is measuring with the film, without and with the model's landmark network (which also
checks the facing, unless a header gives it).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from morpho import measure
from morpho.datasets.aasce import fill_quads, read_quads
from morpho.measure import measure_mask
from morpho.resources import shared_data_dir
from morpho.synth.shapes import render_spine


def ms_per_call(call: Callable[[], object], repeat: int) -> float:
    """Milliseconds per call after one warm-up call."""
    call()
    t0 = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - t0) / repeat * 1000


def timed(mask: np.ndarray, repeat: int, **kw) -> float:
    return ms_per_call(lambda: measure_mask(mask, **kw), repeat)


@functools.cache
def default_segmenter():
    """The default model, loaded once for the run; None (with the reason printed) without."""
    try:
        from morpho.segment.infer import Segmenter

        return Segmenter(spine_only=False)
    except Exception as exc:  # noqa: BLE001 - no model installed is a normal state
        print(f"segmentation not timed: {exc}")
        return None


def segment_ratio(mask: np.ndarray, measure_ms: float, repeat: int) -> None:
    """Time the default model on an image of the mask's size, beside the measuring."""
    segmenter = default_segmenter()
    if segmenter is None:
        return
    image = (0.3 + 0.5 * mask).astype(np.float32)
    seg_ms = ms_per_call(lambda: segmenter.segment(image), repeat)
    print(f"  segmenting the same {mask.shape[0]}x{mask.shape[1]} image: {seg_ms:6.1f} ms; "
          f"measuring / segmenting = {measure_ms / seg_ms:.2f}")


def landmark_cost(mask: np.ndarray, prob: np.ndarray, repeat: int) -> None:
    """Measuring with the film, without and with the default model's landmark network."""
    segmenter = default_segmenter()
    if segmenter is None or segmenter.landmarks is None:
        return
    image = (0.3 + 0.5 * mask).astype(np.float32)
    plain = timed(mask, repeat, probability=prob, pixels=image)
    placed = timed(mask, repeat, probability=prob, pixels=image, landmarks=segmenter.landmarks)
    checked = measure.GIVEN_FACING
    measure.GIVEN_FACING = ("override", "header", "anatomy", "curvature", "image", "default")
    trusted = timed(mask, repeat, probability=prob, pixels=image, landmarks=segmenter.landmarks)
    measure.GIVEN_FACING = checked
    print(f"  the same with the film: {plain:6.1f} ms; with the landmark network too: "
          f"{placed:6.1f} ms (x{placed / plain:.2f}), {trusted:6.1f} ms without its check of "
          "the facing")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    heights = [(40, 40, 40)] * 12
    small, _ = render_spine(heights, bulge=15)
    big, _ = render_spine([tuple(4 * h for h in b) for b in heights], shape=(2500, 2000),
                          depth=200, gap=48, bulge=60)
    print(f"rendered 700x400, 12 bodies:   {timed(small, args.repeat):6.1f} ms per mask")
    big_ms = timed(big, args.repeat)
    print(f"rendered 2500x2000, 12 bodies: {big_ms:6.1f} ms per mask")
    # the default model's path also passes its body probability (cores split merged bodies)
    prob = cv2.GaussianBlur(big.astype(np.float32), (0, 0), 3) * 0.99
    prob_ms = timed(big, args.repeat, probability=prob)
    print(f"  the same with a body probability: {prob_ms:6.1f} ms per mask")
    landmark_cost(big, prob, args.repeat)
    segment_ratio(big, prob_ms, args.repeat)
    k = 6.8  # a full lateral chest film
    chest, _ = render_spine([tuple(k * h for h in b) for b in heights], shape=(4238, 3480),
                            depth=50 * k, gap=12 * k, bulge=15 * k)
    print(f"rendered 4238x3480, 12 bodies: {timed(chest, args.repeat):6.1f} ms per mask")
    prob = cv2.GaussianBlur(chest.astype(np.float32), (0, 0), 3 * k / 4) * 0.99
    chest_ms = timed(chest, args.repeat, probability=prob)
    print(f"  the same with a body probability (measured at half size): {chest_ms:6.1f} ms")
    landmark_cost(chest, prob, args.repeat)
    segment_ratio(chest, chest_ms, args.repeat)
    root = shared_data_dir() / "aasce-ap"
    if root.is_dir():
        times = []
        for image in sorted((root / "images").glob("*.jpg"))[:10]:
            shape = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE).shape
            mask = fill_quads(read_quads(root / "labels" / f"{image.name}.mat"), shape)
            times.append(timed(mask, max(1, args.repeat // 5), view="ap", first_level="T1"))
        print(f"AASCE filled annotations (10 images): {np.median(times):6.1f} ms per mask (median)")
        aasce_model_ratio(root, args.repeat)


def aasce_model_ratio(root: Path, repeat: int) -> None:
    """The default model's own masks on 10 AASCE test films: segmenting each film against
    measuring its mask with the probability, side by side."""
    from morpho.datasets.aasce import fixed_split
    from morpho.io import read_radiograph

    segmenter = default_segmenter()
    if segmenter is None:
        return
    names = sorted(n for n, part in fixed_split().items() if part == "test")[:10]
    seg, meas, repeat = [], [], max(1, repeat // 5)
    for name in names:
        pixels = read_radiograph(root / "images" / name).pixels
        mask, prob = segmenter.segment(pixels)
        seg.append(ms_per_call(lambda pixels=pixels: segmenter.segment(pixels), repeat))
        meas.append(timed(mask, repeat, view="ap", first_level="T1", probability=prob))
    print(f"AASCE test films (10), the default model: segmenting {np.median(seg):6.1f} ms, "
          f"measuring its mask {np.median(meas):6.1f} ms (medians); measuring / segmenting = "
          f"{np.median(np.array(meas) / np.array(seg)):.2f} (median of the films' ratios)")


if __name__ == "__main__":
    main()
