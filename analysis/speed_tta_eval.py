"""What does the mirrored pass buy, film by film? Plain, always-flip and flip-if-uncertain
(at several thresholds of two gate statistics) side by side, as `morpho evaluate` measures
them (spine-only masks), on the test splits of several datasets.

    python analysis/speed_tta_eval.py [MODEL] [--out runs/speed/tta] \
        [--band 0.3 0.7] [--datasets data/aasce/dataset.json data/synth/dataset.json]

Each set is evaluated twice (plain, always-flip; per-image rows kept under OUT/<set>/); a
gate that mirrors image i or not then scores exactly as the flip's rows for the mirrored
images and the plain rows for the others (``evaluate.summarise`` on the mix). Gate
statistics per image, from the plain pass at network size: ``share`` =
``infer.uncertain_share`` (band pixels over the body region); ``core`` = the same after a
3x3 erosion of the band (thin edge bands gone: only thick uncertain blobs count). Where a
set's items have a facing, a "facing" policy (one pass in a canonical facing, with the
items' true facing; not a ``Segmenter`` mode, see ``infer``) is scored the same way from a
third, mirrored-only run. Prints
one row per set and policy: Dice, body recall/precision (components and after the
labelling's split), the share of films mirrored, and the differences to always-flip.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.special import expit  # noqa: E402

from morpho.datasets.contract import load_dataset  # noqa: E402
from morpho.io import read_radiograph  # noqa: E402
from morpho.preprocess import prepare  # noqa: E402
from morpho.segment.evaluate import evaluate, summarise  # noqa: E402
from morpho.segment.infer import Segmenter, uncertain_share  # noqa: E402

SETS = ("data/aasce/dataset.json", "data/synth/dataset.json")
CACHE: dict[bytes, np.ndarray] = {}


class CachedSegmenter(Segmenter):
    """The segmenter with each distinct network input's logits computed once."""

    def run_network(self, batch: np.ndarray) -> np.ndarray:
        out = []
        for image in batch:
            key = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
            if key not in CACHE:
                CACHE[key] = super().run_network(image[None])[0]
            out.append(CACHE[key])
        return np.stack(out)


def row(name: str, policy: str, s: dict, flipped: float, base: dict | None) -> str:
    text = (f"| {name} | {policy} | {s['dice']:.4f} | {s['recall']:.4f} / {s['precision']:.4f}"
            f" | {s['recall_labelled']:.4f} / {s['precision_labelled']:.4f} | {flipped:.0%} |")
    if base is not None:
        text += (f" {s['dice'] - base['dice']:+.4f} | "
                 f"{s['recall_labelled'] - base['recall_labelled']:+.4f} |")
    return text


def core_share(prob: np.ndarray, band: tuple[float, float]) -> float:
    """Band pixels left after a 3x3 erosion of the band, over the body region."""
    region = int(np.count_nonzero(prob >= band[0]))
    inside = ((prob >= band[0]) & (prob <= band[1])).astype(np.uint8)
    core = cv2.erode(inside, np.ones((3, 3), np.uint8))
    return int(np.count_nonzero(core)) / region if region else 1.0


def statistics(seg: Segmenter, dataset, split: str, band) -> pd.DataFrame:
    rows = []
    for item in dataset.split(split):
        prepared = prepare(read_radiograph(item.image).pixels, seg.preprocess)
        prob = expit(seg.run_network(prepared.array[None, None].astype(np.float32))[0, 0])
        rows.append({"image": item.id, "share": uncertain_share(prob, band),
                     "core": core_share(prob, band)})  # fmt: skip
    return pd.DataFrame(rows)


def mixed(runs: dict, mirrored: set) -> dict:
    """The summary of a gate that mirrored the images in ``mirrored``."""
    parts = {}
    for kind in ("images", "bodies"):
        flip, plain = runs["flip"][kind], runs["none"][kind]
        parts[kind] = pd.concat([flip[flip.image.isin(mirrored)],
                                 plain[~plain.image.isin(mirrored)]])  # fmt: skip
    return summarise(parts["images"], parts["bodies"])


class MirrorSegmenter(CachedSegmenter):
    """The mirrored pass only (its logits mirrored back)."""

    def run_network(self, batch: np.ndarray) -> np.ndarray:
        return super().run_network(np.ascontiguousarray(batch[..., ::-1]))[..., ::-1]


def facing_policy(runs: dict, facing: dict, canonical: str) -> dict:
    """One pass in a known facing, with each image's true facing: the plain pass for images facing
    ``canonical``, the mirrored pass only for those facing the other way, both (flip) for
    images without one."""
    def pick(image: str) -> str:
        f = facing.get(image)
        return "flip" if f not in ("left", "right") else "none" if f == canonical else "mirror"

    parts = {}
    for kind in ("images", "bodies"):
        parts[kind] = pd.concat([r[kind][r[kind].image.map(pick) == mode]
                                 for mode, r in runs.items()])  # fmt: skip
    return summarise(parts["images"], parts["bodies"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/speed/tta"))
    parser.add_argument("--band", type=float, nargs=2, default=[0.3, 0.7])
    parser.add_argument("--split", default="test")
    parser.add_argument("--datasets", type=Path, nargs="+", default=[Path(s) for s in SETS])
    args = parser.parse_args()
    band = tuple(args.band)
    print(f"band {band}; split {args.split}")
    print("| set | policy | Dice | recall / precision | after split | mirrored | "
          "dDice vs flip | d recall after split |")
    for path in args.datasets:
        dataset, name = load_dataset(path), path.parent.name
        runs = {}
        for mode in ("flip", "none", "mirror"):
            seg = (MirrorSegmenter if mode == "mirror" else CachedSegmenter)(
                args.model, threads=1, flip="none" if mode == "mirror" else mode, spine_only=True)
            result = evaluate(seg, dataset, args.split, args.out / name / mode, overlays=False)
            runs[mode] = {"images": result.images, "bodies": result.bodies}
        stats = statistics(seg, dataset, args.split, band)
        stats.to_csv(args.out / name / "gate.csv", index=False)
        base = summarise(runs["flip"]["images"], runs["flip"]["bodies"])
        print(row(name, "flip", base, 1.0, None))
        print(row(name, "none", summarise(runs["none"]["images"], runs["none"]["bodies"]),
                  0.0, base))  # fmt: skip
        for stat in ("share", "core"):
            for q in (0.25, 0.5, 0.75):
                t = float(stats[stat].quantile(q))
                mirrored = set(stats.image[stats[stat] > t])
                print(row(name, f"{stat} > {t:.4f} (q{q:g})", mixed(runs, mirrored),
                          len(mirrored) / len(stats), base), flush=True)  # fmt: skip
        ids = {item.id for item in dataset.split(args.split)}
        facing = {item["id"]: item.get("facing") for item in json.loads(path.read_text())["items"]
                  if item["id"] in ids}  # fmt: skip
        if any(f in ("left", "right") for f in facing.values()):
            for canonical in ("right", "left"):
                s = facing_policy(runs, facing, canonical)
                print(row(name, f"facing, one pass as {canonical}", s,
                          sum(f in ("left", "right") and f != canonical
                              for f in facing.values()) / len(facing), base))  # fmt: skip
        print(f"{name}: share {stats.share.describe()[['min', '50%', 'max']].round(4).tolist()}"
              f", core {stats.core.describe()[['min', '50%', 'max']].round(4).tolist()}")


if __name__ == "__main__":
    main()
