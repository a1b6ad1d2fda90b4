"""How far do the screening figures move when a model's weights move by a hair?

A candidate model is judged by a handful of figures on small sets (e.g. 28 true grade >= 2
bodies on the held-out-CT DRRs). This script gives their noise floor: copies of one model
whose every weight is multiplied by (1 + SCALE x N(0, 1)) (a different draw per seed; seed
0 is the model itself), each exported to ONNX and run through segmenting and measuring on
the same films, one row per copy. A candidate whose figures fall inside the copies' range
is not shown better or worse by them.

    python analysis/seg_perturb.py [MODEL] [--scale 0.002] [--seeds 4] \
        [--sets data/synth-fract data/synth] [--split test] [--export 320]

Prints per copy: the mean |change| of the probability against seed 0 on the first film,
bodies graded of found, grade >= 2 sensitivity / specificity (built grade; intact bodies),
the share of graded bodies called 2-3 and the intact bodies' Ha / Hm / Hp MAPE (intact:
built grade 0 and the truth's own six points below grade 2).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from screening_benchmark import HEIGHTS, measure_film, synth_films  # noqa: E402

from morpho.segment.export import export_onnx  # noqa: E402
from morpho.segment.infer import Segmenter, default_model_path  # noqa: E402


def perturbed(model: Path, scale: float, seed: int, folder: Path) -> Path:
    """An ONNX copy of ``model`` with each floating weight x (1 + scale x N(0, 1))."""
    weights = load_file(str(model.with_suffix(".safetensors")))
    gen = torch.Generator().manual_seed(seed)
    if seed:
        weights = {k: v * (1 + scale * torch.randn(v.shape, generator=gen))
                   if v.is_floating_point() else v for k, v in weights.items()}
    stem = folder / f"seed{seed}"
    save_file({k: v.contiguous() for k, v in weights.items()},
              str(stem.with_suffix(".safetensors")))
    config = json.loads(model.with_suffix(".json").read_text())
    config.pop("version", None)
    stem.with_suffix(".json").write_text(json.dumps(config))
    return export_onnx(stem.with_suffix(".safetensors"), stem.with_suffix(".onnx"))


def figures(m: pd.DataFrame) -> str:
    """One line of screening figures from matched bodies (screening_benchmark's table)."""
    found = m["genant_type"].notna()
    graded = found & (m["genant_type"] != "ungradable")
    called = m["genant_grade"].fillna(-1) >= 2
    pos = m["fracture_grade"] >= 2
    intact = (m["fracture_grade"] == 0) & (m["own_grade"] < 2)  # the CT's own deformities out
    sel = m[graded & intact]
    mape = "/".join(f"{100 * np.mean(np.abs(sel[h] / sel[f'{h}_true'] - 1)):.1f}"
                    for h in HEIGHTS)
    return (f"graded {graded.sum()}/{found.sum()}, sens {called[pos].mean():.3f} "
            f"(n={pos.sum()}), spec {(~called[intact]).mean():.3f}, called 2-3 "
            f"{called[graded].mean():.1%} of graded, intact Ha/Hm/Hp MAPE {mape}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path, default=None)
    ap.add_argument("--scale", type=float, default=0.002)
    ap.add_argument("--seeds", type=int, default=4, help="copies, seed 0 (the model) included")
    ap.add_argument("--sets", type=Path, nargs="+",
                    default=[Path("data/synth-fract"), Path("data/synth")])
    ap.add_argument("--split", default="test")
    ap.add_argument("--export", type=int, help="measure JPEG exports this short side (px)")
    args = ap.parse_args()
    model = (args.model or default_model_path()).with_suffix(".onnx")
    films = [f for folder in args.sets for f in synth_films(folder, args.split)]
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            segmenter = Segmenter(perturbed(model, args.scale, seed, Path(tmp)), spine_only=False)
            prob = segmenter.segment_with_cores(films[0][1])[1]
            first = prob if first is None else first
            rows = [measure_film(px, mask, truth.assign(image=image), spacing, segmenter,
                                 args.export, image)[0]
                    for image, px, mask, truth, spacing in films]
            print(f"seed {seed} (mean |dp| {np.abs(prob - first).mean():.4f}): "
                  + figures(pd.concat(rows, ignore_index=True)), flush=True)


if __name__ == "__main__":
    main()
