"""A fake per-image worker (no model) and a script entry point for the kill-and-resume test."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from morpho.batch import BatchItem, items_from_input, run_batch
from morpho.errors import MorphoError


class FakeWorker:
    """Reads PNGs with OpenCV and 'measures' three bodies from the pixel values."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def load(self, item: BatchItem) -> np.ndarray:
        pixels = cv2.imread(item.path, cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise MorphoError(item.path, "not a readable image")
        if min(pixels.shape[:2]) < 16:
            raise MorphoError(item.path, f"image too small ({pixels.shape[1]}x{pixels.shape[0]})")
        return pixels

    def process(self, item: BatchItem, pixels: np.ndarray) -> tuple[dict, pd.DataFrame]:
        time.sleep(self.delay)
        rows = [
            {"image": Path(item.key).stem, "index": i + 1, "level": f"T{i + 10}",
             "ha_px": 100 + pixels[i].mean() / 20, "hm_px": 100.0, "hp_px": 105.0,
             "wedge_ratio": 0.8 + pixels[i, 1] / 1000, "biconcave_ratio": 0.95,
             "crush_ratio": 0.97, "genant_grade": int(pixels[i, 0]) % 4}
            for i in range(3)
        ]  # fmt: skip
        facts = {"rows": pixels.shape[0], "cols": pixels.shape[1], "model_version": "fake-1",
                 "spacing_source": "none", "qa": "ok", "n_vertebrae": 3}  # fmt: skip
        return facts, pd.DataFrame(rows)


def make_images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` small random grayscale PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"img{i:03d}.png"
        cv2.imwrite(str(path), rng.integers(0, 255, (40, 32), dtype=np.uint8))
        paths.append(path)
    return paths


if __name__ == "__main__":  # python fakes.py INPUT OUT DELAY WORKERS
    import functools

    import batch_fakes  # the importable module, so that worker processes can unpickle the factory

    source, out, delay, workers = sys.argv[1:5]
    try:
        run_batch(
            items_from_input(Path(source)),
            Path(out),
            functools.partial(batch_fakes.FakeWorker, delay=float(delay)),
            workers=int(workers),
            chunk_size=2,
            progress=False,
        )
    except MorphoError as exc:  # as the CLI does: one line
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
