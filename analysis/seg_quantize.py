"""Does int8 hold the Dice? Quantise an ONNX segmenter and evaluate fp32 vs int8 side by side.

    python analysis/seg_quantize.py models/vertebra_unet.onnx data/aasce/dataset.json \
        --out runs/int8 [--calibration 32] [--split test] [--also DATASET.json ...]

Calibration uses training images (prepared as the model prepares them), ``--calibration``
spread over the evaluated dataset's training part and as many again over each ``--also``
dataset's (so the activation ranges cover every kind of film the model serves); both models
are then evaluated on the same split. Prints mean Dice of each and the difference (goal:
within 0.005).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from morpho.datasets.contract import load_dataset
from morpho.io import read_radiograph
from morpho.preprocess import prepare
from morpho.segment.evaluate import evaluate
from morpho.segment.infer import Segmenter
from morpho.segment.quantize import quantize_int8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/int8"))
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--split", default="test")
    parser.add_argument("--also", type=Path, nargs="*", default=[],
                        help="more datasets whose training images join the calibration")
    parser.add_argument("--keep-float", nargs="*", default=[],
                        help="node name prefixes left in float (e.g. /decoder/blocks.4)")
    args = parser.parse_args()

    dataset = load_dataset(args.dataset)
    fp32 = Segmenter(args.model)
    arrays = []
    for calibration_set in (dataset, *map(load_dataset, args.also)):
        train = calibration_set.split("train")
        train = train[:: max(1, len(train) // args.calibration)][: args.calibration]
        arrays += [prepare(read_radiograph(i.image).pixels, fp32.preprocess).array for i in train]
    int8_path = quantize_int8(args.model, args.out / "int8.onnx", arrays, args.keep_float)
    results = {}
    for name, path in (("fp32", args.model), ("int8", int8_path)):
        segmenter = fp32 if name == "fp32" else Segmenter(path)
        result = evaluate(segmenter, dataset, args.split, args.out / name, overlays=False)
        results[name] = result.summary["dice"]
        print(f"{name}: mean Dice {result.summary['dice']:.4f} "
              f"CI {result.summary['dice_ci95'][0]:.4f}-{result.summary['dice_ci95'][1]:.4f}, "
              f"size {Path(path).with_suffix('.onnx').stat().st_size / 1e6:.1f} MB")
    print(f"int8 - fp32 Dice: {results['int8'] - results['fp32']:+.4f}")


if __name__ == "__main__":
    main()
