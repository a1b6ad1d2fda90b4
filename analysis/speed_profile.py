"""Per-stage milliseconds of one batch film in one process (one inference thread), as a
batch worker runs it: read (reduced decode), checks, preprocess, network pass(es), maps back
to the original size, label + measure, label map, stored files (display copy, overlay,
encodes, header copy).

    python analysis/speed_profile.py [--film FILM.dcm] [--repeat 7] [--threads 1] [--margin 1]

Without ``--film`` it makes the benchmark's film (analysis/batch_benchmark.py: the sample
upscaled to 2048x2048, JPEG 2000 lossless DICOM). Prints the median ms of each stage over
``--repeat`` runs (wall time; "[was]" lines time the way it was done before, side by side,
and are left out of the sum). The machine may be shared: compare only numbers from one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.special import expit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch_benchmark import make_files  # noqa: E402

from morpho.chain import (  # noqa: E402
    DECODE_MARGIN,
    FilmSettings,
    check_decode,
    label_map,
    load_film,
)
from morpho.measure import measure_mask  # noqa: E402
from morpho.preprocess import prepare  # noqa: E402
from morpho.report.overlay import display_film, overlay_image  # noqa: E402
from morpho.segment.infer import Segmenter  # noqa: E402
from morpho.stored import (  # noqa: E402
    FILM_SIDE,
    JPEG_QUALITY,
    OVERLAY_PNG,
    OVERLAY_SIDE,
    deidentified_header,
)


def profile(film: Path, segmenter: Segmenter, repeat: int, margin: int = DECODE_MARGIN
            ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}

    def clock(name, fn, *args, **kwargs):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        times.setdefault(name, []).append(1000 * (time.perf_counter() - start))
        return value

    settings = FilmSettings(reduced=True)
    for _ in range(repeat):
        if margin != DECODE_MARGIN:
            clock(f"[was] read, margin {DECODE_MARGIN}", load_film, film, settings,
                  segmenter.preprocess)  # fmt: skip
        loaded = clock(f"read (reduced, margin {margin})", load_film, film, settings,
                       segmenter.preprocess, margin)  # fmt: skip
        rg, reduction = loaded.radiograph, loaded.reduction
        clock("decode check", check_decode, film, rg.pixels)
        prepared = clock("preprocess (CLAHE, resize)", prepare, rg.pixels, segmenter.preprocess)
        batch = prepared.array[None, None].astype(np.float32)
        (logits,) = clock("network pass", segmenter.session.run, None, {"image": batch})
        mirrored = np.ascontiguousarray(batch[..., ::-1])
        clock("network pass (mirror)", segmenter.session.run, None, {"image": mirrored})
        prob = clock("sigmoid", expit, logits[0, 0])
        small = clock("to decode size", prepared.transform.to_original, prob)
        full = clock("to original size", reduction.map_to_original, small)
        mask = clock("threshold", np.greater, full, segmenter.threshold)
        table = clock("label + measure", measure_mask, mask, spacing_mm=rg.spacing_mm,
                      spacing_source=rg.spacing_source, view="lateral", image=rg.image_id,
                      facing_hint=rg.facing, pixels=rg.pixels, probability=full,
                      landmarks=segmenter.landmarks)
        labels = clock("label map", label_map, mask, table)
        copy = clock("display copy", display_film, rg.pixels, FILM_SIDE)
        overlay = clock("overlay", overlay_image, copy, table, reduction.original_shape,
                        OVERLAY_SIDE, labels)
        clock("encode labels PNG", cv2.imencode, ".png", labels)
        clock("encode film JPEG", cv2.imencode, ".jpg", copy,
              [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        clock("[was] overlay PNG, default", cv2.imencode, ".png", overlay)
        clock("encode overlay PNG", cv2.imencode, ".png", overlay, OVERLAY_PNG)
        clock("header copy", deidentified_header, film)
    times["(shapes)"] = [0.0]
    print(f"decoded {rg.pixels.shape} of {reduction.original_shape} (1/{reduction.factor}); "
          f"network {prepared.array.shape}; display copy {copy.shape}; overlay {overlay.shape}; "
          f"bodies {len(table)}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--film", type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None)
    parser.add_argument("--margin", type=int, default=DECODE_MARGIN, help="decode margin")
    args = parser.parse_args()
    segmenter = Segmenter(args.model, threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        film = args.film or make_files(Path(tmp), 1) / "film0000.dcm"
        times = profile(film.resolve(), segmenter, args.repeat, args.margin)
    times.pop("(shapes)")
    total = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        total += 0 if name.startswith("[") else median  # "[was]": the old way, for comparison
        print(f"{name:28s} {median:7.1f} ms  (min {min(values):6.1f})")
    print(f"{'sum of medians':28s} {total:7.1f} ms")


if __name__ == "__main__":
    main()
