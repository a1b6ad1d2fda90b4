"""Level names from one known level: how many bodies come out named right.

A reader gives the level of one end of the column (`--first-level`, or `--last-level`
counting up). For every film of a synthetic dataset split, segmented with the model
(default: the shipped one) and measured as `morpho measure` does, the film's first (last)
whole measured body is named with the level of the truth body it lies on, as a reader
looking at it would; the film is then measured with that level, and each body matched to
the truth is checked against the truth's level. Films whose end body lies on no truth body
(a level the truth leaves out, such as the held-out CT's T9 and L4, or a piece of junk) are
counted apart.

    python analysis/label_naming.py data/synth-lidc/dataset.json data/synth-ho/dataset.json \\
        [--split test] [--export 320] [--model MODEL.onnx] [--n N]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from screening_benchmark import exported, scaled_truth, synth_films  # noqa: E402

from morpho.measure import measure_mask  # noqa: E402
from morpho.segment.infer import Segmenter  # noqa: E402
from morpho.synth.truth import match_to_truth  # noqa: E402

ENDS = {"first": 0, "last": -1}


def film_naming(segmenter: Segmenter, pixels, truth, spacing) -> dict[str, tuple[int, int]]:
    """Per end ("first", "last"): (bodies named right, bodies matched), or absent where the
    film's end body lies on no truth body."""
    mask, prob, cores = segmenter.segment_with_cores(pixels)
    args = dict(spacing_mm=spacing, spacing_source="truth", probability=prob, pixels=pixels,
                cores=cores, landmarks=segmenter.landmarks)
    table = measure_mask(mask, **args)
    whole = table[~table["qa"].str.contains("touches the image border")]
    on_truth = match_to_truth(table, truth).set_index("index")["level"]
    out = {}
    for end, k in ENDS.items():
        if whole.empty or whole["index"].iloc[k] not in on_truth.index:
            continue
        named = measure_mask(mask, **args, **{f"{end}_level": on_truth[whole["index"].iloc[k]]})
        matched = match_to_truth(named.rename(columns={"level": "named"}), truth)
        out[end] = (int((matched["named"] == matched["level"]).sum()), len(matched))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", type=Path, nargs="+")
    ap.add_argument("--split", default="test")
    ap.add_argument("--export", type=int, default=320, help="short side of the JPEG export "
                    "(0: the films as rendered)")
    ap.add_argument("--model", help="ONNX model (default: the shipped one)")
    ap.add_argument("--n", type=int, help="only the first N films of each split")
    args = ap.parse_args()
    segmenter = Segmenter(args.model, spine_only=False, threads=1)
    for path in args.datasets:
        tally = {end: [0, 0, 0, 0] for end in ENDS}  # right, matched, films all right, films
        films = 0
        for k, (_, pixels, mask, truth, spacing) in enumerate(synth_films(path.parent,
                                                                          args.split)):
            if args.n and k >= args.n:
                break
            films += 1
            if args.export:
                pixels, mask, scale = exported(pixels, mask, args.export)
                truth = scaled_truth(truth, scale)
                spacing = None if spacing is None else tuple(s / scale for s in spacing)
            for end, (right, matched) in film_naming(segmenter, pixels, truth, spacing).items():
                for i, add in enumerate((right, matched, right == matched, 1)):
                    tally[end][i] += add
        for end, (right, matched, all_right, named) in tally.items():
            print(f"{path.parent.name} --{end}-level: bodies named right {right}/{matched} = "
                  f"{right / max(matched, 1):.3f}; films all right {all_right}/{named} "
                  f"({films - named} films' {end} whole body on no truth body)")


if __name__ == "__main__":
    main()
