"""Facing cues on synthetic laterals with known facing: anatomy, curvature, image.

For every film of the given splits, the bodies are labelled from the exact mask with the
radiograph (no first level, no header, no override: default options), and each cue is
asked on its own: ``anatomy`` (where the spine sits in the body's silhouette),
``curvature`` (kyphosis/lordosis; the default `left` when it shows no clear bulge) and
``image`` (the band behind the bodies). Prints, per set, how often each cue decides and is
right, and how often the chains of precedence are right: the old one (curvature > image >
left) and the two orders with anatomy (anatomy first; curvature first).

    OMP_NUM_THREADS=1 python analysis/label_facing.py data/synth/dataset.json \\
        data/synth-fract/dataset.json --splits train val test [--export]

``--export`` also runs every film as an 8-bit JPEG export 320 px on the short side;
``--segment`` takes the default model's masks (and probability) instead of the exact ones.
``--phantoms N`` adds N `morpho synth` phantoms (seed 0, 512 px, a share facing right).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from morpho.datasets.contract import load_dataset, truth_mask
from morpho.io import read_radiograph
from morpho.label import label_bodies
from morpho.label.facing import facing_from_anatomy, facing_from_curvature, facing_from_image
from morpho.label.geometry import SpineCurve, curve_degree
from morpho.synth.realism import jpeg_export


def cues(mask: np.ndarray, pixels: np.ndarray, segmenter=None) -> dict:
    """Each facing cue on its own for one film (None where it does not decide); with a
    ``segmenter``, on the bodies of its mask and probability instead of ``mask``."""
    prob = None
    if segmenter is not None:
        mask, prob = segmenter.segment(pixels)
    lab = label_bodies(mask, pixels=pixels, probability=prob)
    bodies = lab.vertebrae
    if len(bodies) < 2:
        return {"anatomy": None, "curvature": None, "image": None, "bodies": len(bodies)}
    centres = np.array([b.centre for b in bodies])
    curve = SpineCurve(centres, np.array([b.area for b in bodies], float),
                       degree=curve_degree(len(bodies)))
    facing, source = facing_from_curvature(
        curve, curve.t(centres), [""] * len(bodies), lab.body_height_px)
    return {"anatomy": facing_from_anatomy(pixels, bodies, mask.shape),
            "curvature": facing if source == "curvature" else None,
            "image": facing_from_image(pixels, bodies, mask.shape), "bodies": len(bodies),
            "labelled": lab.facing, "labelled_source": lab.facing_source}


def chain(row: pd.Series, order: tuple[str, ...]) -> str:
    for cue in order:
        if row[cue] is not None and not (isinstance(row[cue], float) and np.isnan(row[cue])):
            return row[cue]
    return "left"


def phantom_films(n: int):
    from morpho.synth.phantom import PhantomParams, render_phantom

    rng = np.random.default_rng(0)
    for k in range(n):
        params = PhantomParams.sample(rng, (512, 512))
        synthetic = render_phantom(params)
        yield f"phantom{k:03d}", synthetic.image, synthetic.labels > 0, params.facing


def report(table: pd.DataFrame) -> None:
    orders = {"old: curvature > image > left": ("curvature", "image"),
              "anatomy > curvature > image > left": ("anatomy", "curvature", "image"),
              "curvature > anatomy > image > left": ("curvature", "anatomy", "image")}
    for name, g in table.groupby("set", sort=False):
        print(f"{name}: {len(g)} films ({(g['truth'] == 'right').sum()} facing right)")
        for cue in ("anatomy", "curvature", "image"):
            said = g[cue].notna()
            right = (g.loc[said, cue] == g.loc[said, "truth"]).sum()
            print(f"  {cue:10s} decides {said.sum():4d}, right {right:4d}")
        for label, order in orders.items():
            right = (g.apply(chain, axis=1, order=order) == g["truth"]).sum()
            print(f"  {label:38s} right {right}/{len(g)}")
        right = (g["labelled"] == g["truth"]).sum()
        print(f"  {'label_bodies as shipped':38s} right {right}/{len(g)}  sources "
              f"{dict(g['labelled_source'].value_counts())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", type=Path, nargs="*")
    ap.add_argument("--splits", nargs="+", default=["test"])
    ap.add_argument("--export", action="store_true")
    ap.add_argument("--phantoms", type=int, default=0)
    ap.add_argument("--segment", action="store_true", help="the default model's masks")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    segmenter = None
    if args.segment:
        from morpho.segment.infer import Segmenter

        segmenter = Segmenter(spine_only=False)
    films = []
    for path in args.datasets:
        dataset = load_dataset(path)
        facing = {i["id"]: i["facing"] for i in json.loads(path.read_text())["items"]}
        for split in args.splits:
            for item in dataset.split(split):
                films.append((f"{path.parent.name} {split}", item.id,
                              lambda item=item: (read_radiograph(item.image).pixels,
                                                 truth_mask(item, (0, 0))), facing[item.id]))
    rows = []
    for set_name, film, load, truth in films:
        pixels, mask = load()
        rows.append({"set": set_name, "film": film, "truth": truth,
                     **cues(mask, pixels, segmenter)})
        if args.export:
            small, labels = jpeg_export(pixels, mask.astype(np.uint8))
            rows.append({"set": f"{set_name} 320", "film": film, "truth": truth,
                         **cues(labels > 0, small, segmenter)})
    for film, image, mask, truth in phantom_films(args.phantoms):
        rows.append({"set": "phantoms", "film": film, "truth": truth, **cues(mask, image)})
        if args.export:
            small, labels = jpeg_export(image, mask.astype(np.uint8))
            rows.append({"set": "phantoms 320", "film": film, "truth": truth,
                         **cues(labels > 0, small)})
    table = pd.DataFrame(rows)
    report(table)
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"one row per film and set: {args.out}")


if __name__ == "__main__":
    main()
