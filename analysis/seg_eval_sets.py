"""Evaluate one ONNX segmenter on several dataset splits, as `morpho evaluate` does
(flip as the model's JSON says, spine-only masks), with a chosen onnxruntime thread count.

    python analysis/seg_eval_sets.py models/vertebra_unet.onnx --out runs/eval/shipped \
        [--threads 1] [--split test] [--datasets data/aasce/dataset.json ...]

Writes each set's summary.md and CSVs under OUT/<dataset name>, and prints one table row per
set: mean Dice (95% CI), IoU, body recall/precision as components and after the labelling's
split, contour distance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from morpho.datasets.contract import load_dataset
from morpho.segment.evaluate import evaluate
from morpho.segment.infer import Segmenter

SETS = ("data/aasce/dataset.json", "data/synth/dataset.json", "data/synth-fract/dataset.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--split", default="test")
    parser.add_argument("--datasets", type=Path, nargs="+", default=[Path(s) for s in SETS])
    args = parser.parse_args()
    segmenter = Segmenter(args.model, threads=args.threads, spine_only=True)
    print(f"model {args.model} ({segmenter.model_version}), split {args.split}")
    print("| set | n | Dice (95% CI) | IoU | recall / precision (components) | "
          "recall / precision (after split) | contour mean / p95 |")
    for path in args.datasets:
        dataset = load_dataset(path)
        s = evaluate(segmenter, dataset, args.split, args.out / path.parent.name,
                     overlays=False).summary
        unit = "mm" if s["contour_mean_mm"] == s["contour_mean_mm"] else "px"
        print(f"| {path.parent.name} | {s['n_images']} | {s['dice']:.3f} "
              f"({s['dice_ci95'][0]:.3f}-{s['dice_ci95'][1]:.3f}) | {s['iou']:.3f} | "
              f"{s['recall']:.3f} / {s['precision']:.3f} | "
              f"{s['recall_labelled']:.3f} / {s['precision_labelled']:.3f} | "
              f"{s[f'contour_mean_{unit}']:.2f} / {s[f'contour_p95_{unit}']:.2f} {unit} |",
              flush=True)


if __name__ == "__main__":
    main()
