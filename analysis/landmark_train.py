"""Train the landmark network (``morpho.segment.landmarks``) on synthetic films' six points.

The network reads a 96x96 crop around one body (the film 8-bit and CLAHE'd as the body
network sees it, anterior turned to the left) and gives a heatmap per point; the points
are their centres of mass. Two steps, torch only:

    python analysis/landmark_train.py crops --out runs/landmarks      # training CTs' DRRs
    python analysis/landmark_train.py train --out runs/landmarks --epochs 8 \
        --export models/vertebra_landmarks.onnx

``crops`` cuts jittered, turned crops of every whole body (fractured ones three times as
often) from the train and val parts of ``data/synth``, ``synth-fract``, ``synth-v2``,
``synth-fract-v2``, ``synth-v3``, ``synth-fract-v3``, ``synth-fract-v3p`` (the training CTs
only, the ``-v3`` sets deformed into six anatomies each; ``morpho synth drr``, commands in
models/LANDMARK_MODEL_CARD.md) and ``data/phantom`` (``morpho synth phantom``); ``--sets``
picks others. The targets are the truth's mid-sagittal six points. ``train``
fits with L1 on points and heights plus a cross-entropy towards a Gaussian on each
heatmap, vertical flips (superior and inferior swapped), coarser-film, gamma, contrast
and noise jitter, and writes the ONNX model, its weights and JSON after each epoch. The
model is used where the body model's JSON names it (``"landmarks"``); how it does on
held-out films: ``screening_benchmark.py``, MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from morpho.io import read_radiograph
from morpho.landmarks import CROP_SCALE, SIDE, crop, to_input
from morpho.measure import six_points
from morpho.preprocess import PreprocessConfig, equalised
from morpho.segment.landmarks import LandmarkNet, save_landmarks

SIGMA = 1.0  # target heatmap spread, heatmap px (2 crop px)
FRACTURE_COPIES = 3
TRAIN_SETS = ["data/synth", "data/synth-fract", "data/synth-v2", "data/synth-fract-v2",
              "data/phantom", "data/synth-v3", "data/synth-fract-v3", "data/synth-fract-v3p"]


def build_crops(split: str, copies: int, rng: np.random.Generator,
                fracture_copies: int = FRACTURE_COPIES, sets: list[str] = TRAIN_SETS
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jittered crops of every whole body of ``split`` of ``sets`` with its six points
    (crop units) and its built fracture grade; fractured bodies get ``fracture_copies``
    times the copies."""
    x, y, g = [], [], []
    for folder in sets:
        items = json.loads(Path(folder, "dataset.json").read_text())["items"]
        truth = pd.read_csv(Path(folder, "truth.csv"))
        for item in (i for i in items if i["split"] == split):
            img = equalised(read_radiograph(Path(folder, item["image"])).pixels,
                            PreprocessConfig())
            whole = truth[(truth["image"] == item["id"]) & truth["complete"].astype(bool)]
            for _, row in whole.iterrows():
                xy = six_points(row)
                size0 = CROP_SCALE * np.ptp(xy, axis=0).max()
                grade = int(row["fracture_grade"])
                for _ in range(copies * (fracture_copies if grade else 1)):
                    centre = xy.mean(0) + rng.normal(0, 0.08, 2) * size0
                    c, m = crop(img, centre, size0 * np.exp(rng.normal(0, 0.15)),
                                row["ant_sup_x"] > row["post_sup_x"], rng.normal(0, 8))
                    x.append(c)
                    y.append((xy @ m[:, :2].T + m[:, 2]) / SIDE)
                    g.append(grade)
    return np.array(x), np.array(y, np.float32), np.array(g, np.int8)


def heights(y: torch.Tensor) -> torch.Tensor:
    """Ha, Hm, Hp of six-point sets (N, 6, 2)."""
    return (y[:, 3:] - y[:, :3]).norm(dim=-1)


def target_maps(y: torch.Tensor) -> torch.Tensor:
    """Gaussians (sigma ``SIGMA`` heatmap px) at the points, each summing to 1."""
    n = SIDE // 2
    g = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    du = (g[None, None, :] - y[..., :1]) * n
    dv = (g[None, None, :] - y[..., 1:]) * n
    t = torch.exp(-0.5 * (dv[..., :, None] ** 2 + du[..., None, :] ** 2) / SIGMA**2)
    return t / t.sum((-1, -2), keepdim=True).clamp_min(1e-12)


def augmented(crops: torch.Tensor) -> torch.Tensor:
    """uint8 crops (N, H, W) -> the network's input, with a coarser film (down and up
    again), gamma, contrast, brightness and noise jitter."""
    x, n = crops.float() / 255, len(crops)
    factor = float(np.random.choice([1, 1, 1.5, 2, 3]))
    if factor > 1:
        small = nn.functional.interpolate(x[:, None], scale_factor=1 / factor, mode="area")
        x = nn.functional.interpolate(small, size=x.shape[-2:], mode="bilinear")[:, 0]
    x = x.clamp(1e-4, 1) ** torch.exp(torch.randn(n, 1, 1) * 0.25)
    x = (x - 0.5) * torch.exp(torch.randn(n, 1, 1) * 0.2) + 0.5 + torch.randn(n, 1, 1) * 0.05
    x = x + torch.randn_like(x) * 0.02 * torch.rand(n, 1, 1)
    return to_input(x.clamp(0, 1).mul(255).numpy())


def _report(uv: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> str:
    """Validation: point error, height MAPE of intact bodies, the ratio of fractured ones."""
    h, t = heights(uv), heights(y)
    mape = ((h / t - 1).abs()[g == 0].mean(0) * 100).tolist()
    f = g >= 2

    def ratio(z: torch.Tensor) -> float:
        return float((torch.minimum(z[:, 0], z[:, 1]) / z[:, 2]).mean())

    return (f"point error {(uv - y).norm(dim=-1).mean() * SIDE:.2f} px of {SIDE}; intact "
            f"Ha / Hm / Hp MAPE {mape[0]:.1f} / {mape[1]:.1f} / {mape[2]:.1f}%; grade >= 2 "
            f"min(Ha, Hm) / Hp {ratio(h[f]):.3f} (truth {ratio(t[f]):.3f})")


def train(out: Path, epochs: int, export: Path) -> None:
    data = np.load(out / "crops.npz")
    inside = ((data["yt"] > 0.02) & (data["yt"] < 0.98)).all(axis=(1, 2))  # else no target
    xt, yt = (torch.from_numpy(data[k][inside]) for k in ("xt", "yt"))
    xv, yv, gv = (torch.from_numpy(data[k]) for k in ("xv", "yv", "gv"))
    sets = ", ".join(data["sets"])
    torch.manual_seed(0)
    np.random.seed(0)
    net = LandmarkNet()
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-4)
    steps = len(xt) // 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * steps)
    for epoch in range(epochs):
        start, net = time.time(), net.train()
        order = torch.randperm(len(xt))
        for k in range(steps):
            pick = order[k * 64:(k + 1) * 64]
            x, y = torch.from_numpy(augmented(xt[pick])), yt[pick].clone()
            up = torch.rand(len(pick)) < 0.5  # upside down: superior and inferior swap
            x[up] = x[up].flip(-2)
            y[up, :, 1] = 1 - y[up, :, 1]
            y[up] = y[up][:, [3, 4, 5, 0, 1, 2]]
            uv, p, _ = net(x)
            ce = -(target_maps(y) * p.clamp_min(1e-8).log()).sum((-1, -2)).mean()
            loss = 20 * ((uv - y).abs().mean() + (heights(uv) - heights(y)).abs().mean()) \
                + 0.05 * ce
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        with torch.no_grad():
            uv = torch.cat([net(torch.from_numpy(to_input(xv[i:i + 512].numpy())))[0]
                            for i in range(0, len(xv), 512)])
        print(f"epoch {epoch + 1}: {_report(uv, yv, gv)} ({time.time() - start:.0f} s)",
              flush=True)
        save_landmarks(net, export, f"analysis/landmark_train.py, {epoch + 1} of {epochs} "
                       f"epochs on {len(xt)} crops of {sets}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["crops", "train"])
    ap.add_argument("--out", type=Path, default=Path("runs/landmarks"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--export", type=Path, help="ONNX path (default: OUT/vertebra_landmarks)")
    ap.add_argument("--fracture-copies", type=int, default=FRACTURE_COPIES,
                    help="crops of a fractured body per crop of an intact one")
    ap.add_argument("--sets", nargs="+", default=TRAIN_SETS,
                    help="training set folders (their train and val parts)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.step == "crops":
        rng = np.random.default_rng(0)
        (xt, yt, gt), (xv, yv, gv) = (
            build_crops("train", 2, rng, args.fracture_copies, args.sets),
            build_crops("val", 1, rng, sets=args.sets))
        np.savez_compressed(args.out / "crops.npz", xt=xt, yt=yt, gt=gt, xv=xv, yv=yv, gv=gv,
                            sets=np.array(args.sets))
        print(f"{len(xt)} training and {len(xv)} validation crops in {args.out}")
    else:
        train(args.out, args.epochs, args.export or args.out / "vertebra_landmarks.onnx")


if __name__ == "__main__":
    main()
