"""CPU time per training batch for the gap weights: found per batch (the old way) against
taken from masks whose gaps were found once at load (``with_gap_channel``), side by side.

    python analysis/train_gaps_benchmark.py --batch 16 --rows 1536 --cols 576

The masks are 17 box bodies a film (the AASCE T1-L5 count) on a canvas the size of a packed
768-px `budget` AP film. On a GPU everything else in a step runs on the device, so this CPU
time is what the step waits for.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from morpho.segment.losses import with_gap_channel


def box_masks(n: int, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, rows, cols), np.uint8)
    pitch = rows // 18
    for mask in masks:
        x = int(rng.integers(cols // 4, cols // 2))
        for k in range(17):
            top = pitch // 2 + k * pitch
            mask[top : top + pitch - 4, x : x + cols // 4] = 1
    return masks


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rows", type=int, default=1536)
    parser.add_argument("--cols", type=int, default=576)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    masks = box_masks(4 * args.batch, args.rows, args.cols)
    index = np.arange(args.batch)
    stacked = with_gap_channel(masks)
    per_batch = median_seconds(lambda: with_gap_channel(masks[index]), args.repeats)
    loaded = median_seconds(lambda: np.ascontiguousarray(stacked[index]), args.repeats)
    print(f"batch {args.batch} at {args.rows}x{args.cols}: gaps found per batch "
          f"{per_batch * 1e3:.1f} ms, taken from the loaded masks {loaded * 1e3:.1f} ms "
          f"({per_batch / loaded:.0f}x less CPU time a step)")


if __name__ == "__main__":
    main()
