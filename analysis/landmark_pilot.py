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
SIGMA = 1.0  # target heatmap spread, heatmap px (2 crop px)
FRACTURE_COPIES = 3
POINTS = ["ant_sup", "mid_sup", "post_sup", "ant_inf", "mid_inf", "post_inf"]
TRAIN_SETS = ["data/synth", "data/synth-fract", "data/synth-v2", "data/synth-fract-v2"]


def film_8bit(pixels: np.ndarray) -> np.ndarray:
    """The film as the body network sees it before resizing: 8 bits, CLAHE'd."""
    return clahe(to_uint8(pixels), PreprocessConfig())


def crop(img: np.ndarray, centre: np.ndarray, size: float, flip: bool, angle: float = 0.0
         ) -> tuple[np.ndarray, np.ndarray]:
    """A SIDE x SIDE crop of side ``size`` px around ``centre``, turned by ``angle`` degrees
    and mirrored with ``flip``, and the 2x3 map from film (x, y) to crop (u, v)."""
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, SIDE / size)
    m[:, 2] += SIDE / 2 - centre
    out = cv2.warpAffine(img, m, (SIDE, SIDE), flags=cv2.INTER_AREA if size > SIDE else
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if flip:
        out = out[:, ::-1]
        m = np.array([[-1, 0, SIDE - 1], [0, 1, 0]], np.float32) @ np.vstack([m, [0, 0, 1]])
    return np.ascontiguousarray(out), m[:2].astype(np.float32)


def six(row: pd.Series) -> np.ndarray:
    return np.array([[row[f"{p}_x"], row[f"{p}_y"]] for p in POINTS], float)


def build_crops(split: str, copies: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jittered crops of every whole body of ``split`` with its six points (crop units) and
    its built fracture grade; fractured bodies get ``FRACTURE_COPIES`` times the copies."""
    x, y, g = [], [], []
    for folder in TRAIN_SETS:
        items = json.loads(Path(folder, "dataset.json").read_text())["items"]
        truth = pd.read_csv(Path(folder, "truth.csv"))
        for item in (i for i in items if i["split"] == split):
            img = film_8bit(read_radiograph(Path(folder, item["image"])).pixels)
            whole = truth[(truth["image"] == item["id"]) & truth["complete"].astype(bool)]
            for _, row in whole.iterrows():
                xy = six(row)
                size0 = 1.7 * np.ptp(xy, axis=0).max()
                grade = int(row["fracture_grade"])
                for _ in range(copies * (FRACTURE_COPIES if grade else 1)):
                    centre = xy.mean(0) + rng.normal(0, 0.06, 2) * size0
                    c, m = crop(img, centre, size0 * np.exp(rng.normal(0, 0.1)),
                                row["ant_sup_x"] > row["post_sup_x"], rng.normal(0, 8))
                    x.append(c)
                    y.append((xy @ m[:, :2].T + m[:, 2]) / SIDE)
                    g.append(grade)
    return np.array(x), np.array(y, np.float32), np.array(g, np.int8)


def _conv(i: int, o: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o),
                         nn.ReLU(True))


class LandmarkNet(nn.Module):
    """96x96 crop -> six heatmaps at 48x48 (a small U-Net) -> six (u, v) points in crop
    units (0-1) by soft-argmax; ``forward`` returns both."""

    def __init__(self) -> None:
        super().__init__()
        widths = (16, 24, 48, 96)
        self.down = nn.ModuleList()
        for i, o in zip((1, *widths[:-1]), widths, strict=True):
            self.down.append(nn.Sequential(_conv(i, o, 2), _conv(o, o)))
        self.up = nn.ModuleList(
            nn.Sequential(_conv(hi + lo, lo), _conv(lo, lo))
            for hi, lo in zip(widths[:0:-1], widths[-2::-1], strict=True))
        self.head = nn.Conv2d(widths[0], 6, 1)
        grid = (torch.arange(SIDE // 2, dtype=torch.float32) + 0.5) / (SIDE // 2)
        self.register_buffer("grid", grid)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in self.up:
            x = nn.functional.interpolate(x, scale_factor=2.0, mode="bilinear")
            x = block(torch.cat([x, skips.pop()], 1))
        logits = self.head(x)
        p = logits.flatten(2).softmax(-1).view_as(logits)
        uv = torch.stack([(p.sum(2) * self.grid).sum(-1), (p.sum(3) * self.grid).sum(-1)], -1)
        return uv, p


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
    return t / t.sum((-1, -2), keepdim=True)


def to_input(x: torch.Tensor, augment: bool) -> torch.Tensor:
    x = x.float() / 255
    if augment:  # gamma, contrast, brightness, noise, blur-free
        n = len(x)
        x = x.clamp(1e-4, 1) ** torch.exp(torch.randn(n, 1, 1) * 0.25)
        x = (x - 0.5) * torch.exp(torch.randn(n, 1, 1) * 0.2) + 0.5 + torch.randn(n, 1, 1) * 0.05
        x = x + torch.randn_like(x) * 0.02 * torch.rand(n, 1, 1)
    return ((x - 0.5) / 0.25).unsqueeze(1)


def _report(uv: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> str:
    """Validation: point error, height MAPE of intact bodies, the ratio bias of fractured."""
    h, t = heights(uv), heights(y)
    mape = ((h / t - 1).abs()[g == 0].mean(0) * 100).tolist()
    f = g >= 2
    ratio = lambda z: torch.minimum(z[:, 0], z[:, 1]) / z[:, 2]  # noqa: E731
    return (f"point error {(uv - y).norm(dim=-1).mean() * SIDE:.2f} px of {SIDE}; intact "
            f"Ha / Hm / Hp MAPE {mape[0]:.1f} / {mape[1]:.1f} / {mape[2]:.1f}%; grade >= 2 "
            f"min ratio {ratio(h[f]).mean():.3f} (truth {ratio(t[f]).mean():.3f})")


def train(out: Path, epochs: int) -> None:
    data = np.load(out / "crops.npz")
    xt, yt, gt, xv, yv, gv = (torch.from_numpy(data[k])
                              for k in ("xt", "yt", "gt", "xv", "yv", "gv"))
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
            uv, p = net(x)
            ce = -(target_maps(y) * p.clamp_min(1e-8).log()).sum((-1, -2)).mean()
            loss = 20 * ((uv - y).abs().mean() + (heights(uv) - heights(y)).abs().mean()) \
                + 0.05 * ce
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            uv = torch.cat([net.eval()(to_input(xv[i:i + 512], False))[0]
                            for i in range(0, len(xv), 512)])
        print(f"epoch {epoch + 1}: {_report(uv, yv, gv)} ({time.time() - start:.0f} s)",
              flush=True)
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
            uv = net(to_input(torch.from_numpy(np.array(crops)), False))[0].numpy() * SIDE
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
        (xt, yt, gt), (xv, yv, gv) = build_crops("train", 2, rng), build_crops("val", 1, rng)
        np.savez_compressed(args.out / "crops.npz", xt=xt, yt=yt, gt=gt, xv=xv, yv=yv, gv=gv)
        print(f"{len(xt)} training and {len(xv)} validation crops in {args.out}")
    elif args.step == "train":
        train(args.out, args.epochs)
    else:
        for folder in args.sets:
            evaluate(args.out, folder)


if __name__ == "__main__":
    main()
