"""Bit-for-bit the same results whatever the worker count, and alone or inside a batch."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from batch_phantoms import threshold_chain
from pandas.testing import assert_frame_equal

from morpho.batch import items_from_input, run_batch

FILMS = 120
TIMING = ["read_s", "process_s", "segment_s", "measure_s"]


def touching(seed: int, rows: int = 320, cols: int = 180) -> np.ndarray:
    """uint8: seven bodies on a curve, each pair joined by a disc bright enough for the
    threshold (so the mask merges them) but under the confident cores (the labelling parts
    them by a watershed); a random one wedged, heights and noise random."""
    rng = np.random.default_rng(seed)
    image = np.full((rows, cols), 0.2, np.float32)
    top, height = rows * 0.08, rows * rng.uniform(0.085, 0.1)
    for i in range(7):
        x0 = cols * (0.35 + 0.05 * np.sin(i / 2 + seed))
        body = np.array([[x0, top], [x0 + cols * 0.3, top], [x0 + cols * 0.3, top + height],
                         [x0, top + height]], np.float32)  # fmt: skip
        if i == seed % 7:
            body[0, 1] += rng.uniform(0.2, 0.45) * height
        disc = np.array([[x0 + 2, top + height], [x0 + cols * 0.3 - 2, top + height],
                         [x0 + cols * 0.3 - 2, top + height + 3], [x0 + 2, top + height + 3]])
        cv2.fillPoly(image, [np.round(body).astype(np.int32)], 0.98)
        if i < 6:
            cv2.fillPoly(image, [np.round(disc).astype(np.int32)], 0.62)
        top += height + 3
    image += rng.normal(0, 0.015, image.shape).astype(np.float32)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def _outputs(out) -> tuple[pd.DataFrame, pd.DataFrame]:
    images = pd.read_parquet(out / "images.parquet").drop(columns=TIMING)
    return pd.read_parquet(out / "measurements.parquet"), images


def test_worker_count_and_company_do_not_change_a_bit(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(FILMS):
        cv2.imwrite(str(source / f"f{i:03d}.png"), touching(i))
    items = items_from_input(source)
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        summary = run_batch(items, out, threshold_chain, workers=workers, chunk_size=3,
                            progress=False)  # fmt: skip
        assert summary.ok == FILMS
        runs[workers] = _outputs(out)
    for one, two in zip(runs[1], runs[2], strict=True):
        assert_frame_equal(one, two, check_exact=True)
    measured = runs[1][0]
    assert measured.groupby("file").size().median() >= 6  # the touching bodies were parted
    alone = tmp_path / "alone"
    run_batch(items_from_input(source / "f057.png"), alone, threshold_chain, workers=1,
              progress=False)  # fmt: skip
    inside = measured[measured["file"] == "f057.png"].reset_index(drop=True)
    assert_frame_equal(_outputs(alone)[0], inside, check_exact=True, check_dtype=False)


def test_inference_threads_do_not_change_the_probabilities():
    """batch gives each worker cores // workers inference threads: no pin is needed while
    onnxruntime's results do not depend on them (measured: identical, 1 vs 2 vs 4)."""
    from morpho.segment.infer import Segmenter
    from morpho.synth.phantom import PhantomParams, render_phantom

    film = render_phantom(PhantomParams(size=(640, 512))).image.astype(np.float32) / 65535
    maps = [Segmenter(threads=t).probability_maps([film])[0] for t in (1, 2, 4)]
    assert all(np.array_equal(maps[0], other) for other in maps[1:])
    layout = Segmenter(threads=1).probability_maps([np.asfortranarray(film)])[0]
    assert np.array_equal(maps[0], layout)
