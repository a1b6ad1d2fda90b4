"""What does the mirrored pass buy, film by film? Plain, always-flip and flip-if-uncertain
(at several uncertain-share thresholds) side by side, as `morpho evaluate` measures them
(spine-only masks), on the test splits of several datasets.

    python analysis/speed_tta_eval.py [MODEL] [--shares 0.05 0.1 0.15 0.2] \
        [--band 0.3 0.7] [--datasets data/aasce/dataset.json data/synth/dataset.json]

Each network pass is run once per film and cached, so every policy sees the same logits.
Prints one row per set and policy: Dice, body recall/precision (components and after the
labelling's split), the share of films that got the mirrored pass, and the differences to
always-flip.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from morpho.datasets.contract import load_dataset  # noqa: E402
from morpho.segment.evaluate import evaluate  # noqa: E402
from morpho.segment.infer import Segmenter  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2])
    parser.add_argument("--band", type=float, nargs=2, default=[0.3, 0.7])
    parser.add_argument("--split", default="test")
    parser.add_argument("--datasets", type=Path, nargs="+", default=[Path(s) for s in SETS])
    args = parser.parse_args()
    policies = [("flip", "flip", None), ("none", "none", None)]
    policies += [(f"if-uncertain >{t:g}", "flip-if-uncertain", t) for t in args.shares]
    print(f"band {args.band}; split {args.split}")
    print("| set | policy | Dice | recall / precision | after split | mirrored | "
          "dDice vs flip | d recall after split |")
    for path in args.datasets:
        dataset = load_dataset(path)
        base = None
        for name, mode, share in policies:
            seg = CachedSegmenter(args.model, threads=1, flip=mode, spine_only=True)
            seg.band = tuple(args.band)
            if share is not None:
                seg.uncertain_share = share
            s = evaluate(seg, dataset, args.split, None, overlays=False).summary
            base = base or s
            print(row(path.parent.name, name, s, seg.flipped / max(seg.passes, 1),
                      None if name == "flip" else base), flush=True)


if __name__ == "__main__":
    main()
