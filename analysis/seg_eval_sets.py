"""Evaluate one ONNX segmenter on several dataset splits, as `morpho evaluate` does
(flip as the model's JSON says, spine-only masks), with a chosen onnxruntime thread count.

    python analysis/seg_eval_sets.py models/vertebra_unet.onnx --out runs/eval/shipped \
        [--threads 1] [--split test] [--datasets data/aasce/dataset.json ...] [--export 320]

Writes each set's summary.md and CSVs under OUT/<dataset name>, and prints one table row per
set: mean Dice (95% CI), IoU, body recall/precision as components and after the labelling's
split (also within the span of levels the truth labels: a CT slab's unlabelled end bodies
are real bone, no false positives), contour distance. ``--export 320`` evaluates each set
again as 8-bit JPEG exports 320 px on the short side (as public research sets ship films).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import cv2

from morpho.atomic import write_png
from morpho.datasets.contract import Dataset, instance_labels, load_dataset
from morpho.io import read_radiograph
from morpho.segment.evaluate import evaluate
from morpho.segment.infer import Segmenter
from morpho.synth.realism import jpeg_export

SETS = ("data/aasce/dataset.json", "data/synth/dataset.json", "data/synth-fract/dataset.json")


def exported_split(dataset: Dataset, split: str, short: int, folder: Path) -> Dataset:
    """The split's films as JPEG exports ``short`` px on the short side, with their instance
    labels and pixel spacing scaled alike (written under ``folder``)."""
    items = []
    for item in dataset.split(split):
        pixels = read_radiograph(item.image).pixels
        small, labels = jpeg_export(pixels, instance_labels(item, pixels.shape[:2]), short)
        image, label_path = folder / f"{item.id}.jpg", folder / f"{item.id}_labels.png"
        cv2.imwrite(str(image), small)
        write_png(label_path, labels.astype("uint16"))
        factor = pixels.shape[0] / small.shape[0]
        spacing = tuple(v * factor for v in item.spacing_mm) if item.spacing_mm else None
        items.append(dataclasses.replace(item, image=image, mask=label_path, labels=label_path,
                                         landmarks=None, spacing_mm=spacing))
    return dataclasses.replace(dataset, items=items)


def row(name: str, s: dict) -> str:
    unit = "mm" if s["contour_mean_mm"] == s["contour_mean_mm"] else "px"
    return (f"| {name} | {s['n_images']} | {s['dice']:.3f} "
            f"({s['dice_ci95'][0]:.3f}-{s['dice_ci95'][1]:.3f}) | {s['iou']:.3f} | "
            f"{s['recall']:.3f} / {s['precision']:.3f} | "
            f"{s['recall_labelled']:.3f} / {s['precision_labelled']:.3f} "
            f"({s['precision_in_span']:.3f} in span) | "
            f"{s[f'contour_mean_{unit}']:.2f} / {s[f'contour_p95_{unit}']:.2f} {unit} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--split", default="test")
    parser.add_argument("--datasets", type=Path, nargs="+", default=[Path(s) for s in SETS])
    parser.add_argument("--export", type=int, help="also as JPEG exports this short side (px)")
    args = parser.parse_args()
    segmenter = Segmenter(args.model, threads=args.threads, spine_only=True)
    print(f"model {args.model} ({segmenter.model_version}), split {args.split}")
    print("| set | n | Dice (95% CI) | IoU | recall / precision (components) | "
          "recall / precision (after split) | contour mean / p95 |")
    for path in args.datasets:
        dataset, name = load_dataset(path), path.parent.name
        s = evaluate(segmenter, dataset, args.split, args.out / name, overlays=False).summary
        print(row(name, s), flush=True)
        if args.export:
            with tempfile.TemporaryDirectory() as folder:
                small = exported_split(dataset, args.split, args.export, Path(folder))
                s = evaluate(segmenter, small, args.split, args.out / f"{name}-{args.export}",
                             overlays=False).summary
            print(row(f"{name}, {args.export} px JPEG", s), flush=True)

if __name__ == "__main__":
    main()
