"""Counting, naming and facing on lateral DRRs rendered from a real CT (morpho.synth.drr).

Each DRR's projected body labels are the mask; ``measure_mask`` runs with the truth's first
level. Prints how often the bodies are counted and named exactly, how often the facing is
found, and the height differences against the truth's mid-sagittal six points (a projection
shows the whole body, so these differ by anatomy, not only by measurement error).

    python analysis/measure_drr.py [--n 8] [--ct lidc-idri-0001] [--size 1024]
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.progress import track

from morpho.measure import measure_mask
from morpho.resources import shared_data_dir
from morpho.synth.ctvolume import load_ct
from morpho.synth.drr import DRRParams, DRRSource, render_drr
from morpho.synth.truth import first_whole_level


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--ct", default="lidc-idri-0001")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    source = DRRSource(load_ct(shared_data_dir() / "ct" / args.ct))
    rng = np.random.default_rng(args.seed)
    named = facing = 0
    diffs = []
    for _ in track(range(args.n), description="DRRs"):
        synth = render_drr(source, DRRParams.sample(rng, source, (args.size,) * 2), rng)
        truth = synth.truth
        df = measure_mask(synth.mask, first_level=first_whole_level(truth))
        named += list(df["level"]) == list(truth["level"])
        facing += bool(len(df)) and df["facing"].iloc[0] == synth.facing
        m = truth[truth["complete"].astype(bool)].merge(df, on="level", suffixes=("_t", ""))
        cols = ["ha_px", "hm_px", "hp_px"]
        diffs.append(m[cols].to_numpy() / m[[f"{c}_t" for c in cols]].to_numpy() - 1)
    d = np.concatenate(diffs) * 100
    print(f"DRRs of {args.ct}: {args.n} at {args.size} px")
    print(f"bodies counted and named exactly: {named}/{args.n}; facing found: {facing}/{args.n}")
    print("height vs mid-sagittal truth, mean signed % (Ha, Hm, Hp): "
          + ", ".join(f"{v:+.1f}" for v in d.mean(axis=0))
          + f"; median |%| {np.median(np.abs(d)):.1f}")


if __name__ == "__main__":
    main()
