"""Pilot: a small network that places the six points on a crop of one body.

Not a channel of the body network (its last stage is shared) but a separate CNN that reads
a 96x96 crop around a body, anterior turned to the left, and regresses the truth's
mid-sagittal six points; its cost grows with the bodies, not the film. Three steps:

    python analysis/landmark_pilot.py crops --out runs/landmarks      # training CTs' DRRs
    python analysis/landmark_pilot.py train --out runs/landmarks --epochs 10
    python analysis/landmark_pilot.py eval --out runs/landmarks \\
        --sets data/synth-fract-ho data/synth-fract-ho-v2             # held-out CT

``crops`` cuts jittered crops from the train and val parts of ``data/synth``,
``synth-fract``, ``synth-v2`` and ``synth-fract-v2`` (the training CTs only). ``eval``
segments and measures the held-out films with the default model, crops each measured body
around its six points, and prints, against the truth: Ha / Hm / Hp MAPE of intact and
fractured bodies from today's points and from the network's, the AUC of the raw
wedge/biconcave loss (fractured grade >= 2 against intact) and the share of bodies with a
raw loss of 25% or more. Results: docs/VALIDATION.md. Training only; torch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screening_benchmark import roc_auc, synth_films  # noqa: E402

from morpho.io import read_radiograph  # noqa: E402
from morpho.measure import measure_mask  # noqa: E402
from morpho.preprocess import PreprocessConfig, clahe, to_uint8  # noqa: E402
from morpho.segment.infer import Segmenter  # noqa: E402
from morpho.synth.truth import match_to_truth, truth_grades  # noqa: E402

SIDE = 96
POINTS = ["ant_sup", "mid_sup", "post_sup", "ant_inf", "mid_inf", "post_inf"]
TRAIN_SETS = ["data/synth", "data/synth-fract", "data/synth-v2", "data/synth-fract-v2"]


def film_8bit(pixels: np.ndarray) -> np.ndarray:
    """The film as the body network sees it before resizing: 8 bits, CLAHE'd."""
    return clahe(to_uint8(pixels), PreprocessConfig())


def crop(img: np.ndarray, centre: np.ndarray, size: float, flip: bool
         ) -> tuple[np.ndarray, np.ndarray]:
    """A SIDE x SIDE crop of side ``size`` px around ``centre``, mirrored with ``flip``, and
    the 2x3 map from film (x, y) to crop (u, v)."""
    s = SIDE / size
    m = np.array([[s, 0, SIDE / 2 - s * centre[0]], [0, s, SIDE / 2 - s * centre[1]]],
                 np.float32)
    out = cv2.warpAffine(img, m, (SIDE, SIDE), flags=cv2.INTER_AREA if s < 1 else
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if flip:
        out = out[:, ::-1]
        m = np.array([[-1, 0, SIDE - 1], [0, 1, 0]], np.float32) @ np.vstack([m, [0, 0, 1]])
    return np.ascontiguousarray(out), m[:2]


def six(row: pd.Series) -> np.ndarray:
    return np.array([[row[f"{p}_x"], row[f"{p}_y"]] for p in POINTS], float)


def build_crops(split: str, copies: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """Jittered crops of every whole body of ``split`` with its six points (crop units)."""
    x, y = [], []
    for folder in TRAIN_SETS:
        items = json.loads(Path(folder, "dataset.json").read_text())["items"]
        truth = pd.read_csv(Path(folder, "truth.csv"))
        for item in (i for i in items if i["split"] == split):
            img = film_8bit(read_radiograph(Path(folder, item["image"])).pixels)
            whole = truth[(truth["image"] == item["id"]) & truth["complete"].astype(bool)]
            for _, row in whole.iterrows():
                xy = six(row)
                size0 = 1.7 * np.ptp(xy, axis=0).max()
                for _ in range(copies):
                    centre = xy.mean(0) + rng.normal(0, 0.06, 2) * size0
                    c, m = crop(img, centre, size0 * np.exp(rng.normal(0, 0.1)),
                                row["ant_sup_x"] > row["post_sup_x"])
                    x.append(c)
                    y.append((xy @ m[:, :2].T + m[:, 2]) / SIDE)
    return np.array(x), np.array(y, np.float32)


def _block(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, 2, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True),
                         nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True))


class LandmarkNet(nn.Module):
    """96x96 crop -> six (u, v) points in crop units (0-1)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(_block(1, 32), _block(32, 48), _block(48, 96),
                                      _block(96, 128))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * 6 * 6, 256), nn.ReLU(True),
                                  nn.Linear(256, 12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).view(-1, 6, 2) + 0.5


def heights(y: torch.Tensor) -> torch.Tensor:
    """Ha, Hm, Hp of six-point sets (N, 6, 2)."""
    return (y[:, 3:] - y[:, :3]).norm(dim=-1)


def to_input(x: torch.Tensor, augment: bool) -> torch.Tensor:
    x = x.float() / 255
    if augment:  # gamma, contrast, brightness, noise
        n = len(x)
        x = x.clamp(1e-4, 1) ** torch.exp(torch.randn(n, 1, 1) * 0.25)
        x = (x - 0.5) * torch.exp(torch.randn(n, 1, 1) * 0.2) + 0.5 + torch.randn(n, 1, 1) * 0.05
        x = x + torch.randn_like(x) * 0.02 * torch.rand(n, 1, 1)
    return ((x - 0.5) / 0.25).unsqueeze(1)


def train(out: Path, epochs: int) -> None:
    data = np.load(out / "crops.npz")
    xt, yt, xv, yv = (torch.from_numpy(data[k]) for k in ("xt", "yt", "xv", "yv"))
    torch.manual_seed(0)
    net = LandmarkNet()
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-4)
    steps = len(xt) // 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * steps)
    for epoch in range(epochs):
        start, net = time.time(), net.train()
        order = torch.randperm(len(xt))
        for k in range(steps):
            pick = order[k * 64:(k + 1) * 64]
            x, y = to_input(xt[pick], True), yt[pick].clone()
            up = torch.rand(len(pick)) < 0.5  # upside down: superior and inferior swap
            x[up] = x[up].flip(-2)
            y[up, :, 1] = 1 - y[up, :, 1]
            y[up] = y[up][:, [3, 4, 5, 0, 1, 2]]
            p = net(x)
            loss = (p - y).abs().mean() + (heights(p) - heights(y)).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            p = net.eval()(to_input(xv, False))
        mape = ((heights(p) / heights(yv) - 1).abs().mean(0) * 100).tolist()
        print(f"epoch {epoch + 1}: val point error {(p - yv).norm(dim=-1).mean() * SIDE:.2f} "
              f"px of {SIDE}, height MAPE Ha / Hm / Hp {mape[0]:.1f} / {mape[1]:.1f} / "
              f"{mape[2]:.1f}% ({time.time() - start:.0f} s)", flush=True)
        torch.save(net.state_dict(), out / "landmarks.pt")


def evaluate(out: Path, folder: Path) -> None:
    net = LandmarkNet()
    net.load_state_dict(torch.load(out / "landmarks.pt", weights_only=True))
    net.eval()
    segmenter = Segmenter(spine_only=False)
    rows = []
    for image, pixels, _, truth, spacing in synth_films(folder, "test"):
        truth = truth.assign(own_grade=truth_grades(truth), image=image)
        mask, prob, cores = segmenter.segment_with_cores(pixels)
        df = measure_mask(mask, spacing_mm=spacing, spacing_source="truth", probability=prob,
                          pixels=pixels, image=image, cores=cores)
        m = truth.merge(match_to_truth(df, truth), on="level", how="left",
                        suffixes=("_true", ""))
        m = m[m["complete"].astype(bool) & m["genant_type"].notna()].copy()
        if m.empty:
            continue
        img = film_8bit(pixels)
        crops, maps = zip(*(crop(img, six(r).mean(0), 1.7 * np.ptp(six(r), axis=0).max(),
                                 r["ant_sup_x"] > r["post_sup_x"]) for _, r in m.iterrows()),
                          strict=True)
        with torch.no_grad():
            uv = net(to_input(torch.from_numpy(np.array(crops)), False)).numpy() * SIDE
        for k, m2 in enumerate(maps):
            back = np.linalg.inv(np.vstack([m2, [0, 0, 1]]))
            xy = (np.c_[uv[k], np.ones(6)] @ back.T)[:, :2]
            m.loc[m.index[k], ["net_ha", "net_hm", "net_hp"]] = np.linalg.norm(
                xy[3:] - xy[:3], axis=1)
        rows.append(m)
    m = pd.concat(rows, ignore_index=True)
    intact = (m["fracture_grade"] == 0) & (m["own_grade"] < 2)
    positive = m["fracture_grade"] >= 2
    graded = m["genant_type"] != "ungradable"
    print(f"== {folder}: {m['image_true'].nunique()} films, {len(m)} bodies found")
    for name, sel in (("intact graded", intact & graded), ("fractured", m["fracture_grade"] > 0)):
        s = m[sel]
        now, net_ = ("/".join(f"{100 * np.mean(np.abs(s[a] / s[f'{h}_px_true'] - 1)):.1f}"
                              for h, a in zip(("ha", "hm", "hp"), cols, strict=True))
                     for cols in (("ha_px", "hm_px", "hp_px"), ("net_ha", "net_hm", "net_hp")))
        print(f"{name} ({len(s)}): Ha / Hm / Hp MAPE now {now}%, network {net_}%")
    keep = (intact | positive).to_numpy()
    for name, (a, mid, p) in {"now": ("ha_px", "hm_px", "hp_px"),
                              "network": ("net_ha", "net_hm", "net_hp"),
                              "truth": ("ha_px_true", "hm_px_true", "hp_px_true")}.items():
        loss = (1 - np.minimum(m[a] / m[p], m[mid] / m[p])).to_numpy()
        called = loss >= 0.25
        print(f"{name}: AUC of the raw loss {roc_auc(loss[keep], positive.to_numpy()[keep]):.3f}; "
              f"raw loss >= 25%: sensitivity {called[positive].mean():.3f}, specificity "
              f"{(~called[intact]).mean():.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["crops", "train", "eval"])
    ap.add_argument("--out", type=Path, default=Path("runs/landmarks"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--sets", type=Path, nargs="+",
                    default=[Path("data/synth-fract-ho"), Path("data/synth-fract-ho-v2")])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.step == "crops":
        rng = np.random.default_rng(0)
        (xt, yt), (xv, yv) = build_crops("train", 2, rng), build_crops("val", 1, rng)
        np.savez_compressed(args.out / "crops.npz", xt=xt, yt=yt, xv=xv, yv=yv)
        print(f"{len(xt)} training and {len(xv)} validation crops in {args.out}")
    elif args.step == "train":
        train(args.out, args.epochs)
    else:
        for folder in args.sets:
            evaluate(args.out, folder)


if __name__ == "__main__":
    main()
