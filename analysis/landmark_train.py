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

Real films: ``aasce-crops`` cuts crops of the real AASCE AP films' annotated bodies (train
and val parts; four corners each, the left side taken as "anterior"), and ``train --aasce
OUT/aasce.npz`` mixes them in, the middle points left out of the loss (an AP film shows
no central endplate); ``--ap-head`` reads them out by a head of their own that is not
exported (through the shared head the AP corner convention shortened lateral heights);
``--init`` fine-tunes given weights; ``--processing`` adds a vendor's processing (unsharp
masking, equalisation) and film grain to the augmentation. ``aasce-eval MODEL...``
compares models on jittered crops of the AASCE test part (corner error, left / right
heights; ``--sheet`` draws some). The shipped network's last two steps
(LANDMARK_MODEL_CARD.md, Reproduce):

    python analysis/landmark_train.py aasce-crops --out runs/landmarks
    python analysis/landmark_train.py train --out runs/landmarks --aasce \
        runs/landmarks/aasce.npz --ap-head --init FIRST.safetensors --epochs 3 --lr 5e-4 \
        --export runs/landmarks/aasce/vertebra_landmarks.onnx
    python analysis/landmark_train.py train --out runs/landmarks --aasce \
        runs/landmarks/aasce.npz --ap-head --epochs 3 --lr 5e-4 --processing \
        --init runs/landmarks/aasce/vertebra_landmarks.safetensors \
        --export models/vertebra_landmarks.onnx
    python analysis/landmark_train.py aasce-eval models/vertebra_landmarks.safetensors \
        FIRST.safetensors --sheet docs/landmarks_aasce.jpg
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from morpho.datasets.aasce import annotation_defect, by_y, fixed_split, read_corners
from morpho.io import read_radiograph
from morpho.landmarks import CROP_SCALE, SIDE, crop, to_input
from morpho.measure import six_points
from morpho.preprocess import PreprocessConfig, equalised
from morpho.resources import shared_data_dir
from morpho.segment.landmarks import LandmarkNet, load_landmarks, save_landmarks

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
                xy, grade = six_points(row), int(row["fracture_grade"])
                for _ in range(copies * (fracture_copies if grade else 1)):
                    c, uv = jittered_crop(img, xy, rng, row["ant_sup_x"] > row["post_sup_x"])
                    x.append(c)
                    y.append(uv)
                    g.append(grade)
    return np.array(x), np.array(y, np.float32), np.array(g, np.int8)


def jittered_crop(img: np.ndarray, xy: np.ndarray, rng: np.random.Generator,
                  flip: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A crop around six points ``xy`` moved by 8% and scaled by 15% of its size and
    turned ~8 degrees, mirrored with ``flip`` (None: at random), and the points in crop
    units."""
    size = CROP_SCALE * np.ptp(xy, axis=0).max()
    centre = xy.mean(0) + rng.normal(0, 0.08, 2) * size
    size *= np.exp(rng.normal(0, 0.15))
    mirror = bool(rng.random() < 0.5) if flip is None else flip
    c, m = crop(img, centre, size, mirror, rng.normal(0, 8))
    return c, (xy @ m[:, :2].T + m[:, 2]) / SIDE


def corner_points(corners: np.ndarray) -> np.ndarray:
    """AASCE corners (17, 4, 2: TL, TR, BL, BR) -> six points (17, 6, 2) in ``POINTS``
    order with the left side as "anterior" and the edges' midpoints as the middle points
    (which the loss leaves out: an AP film shows no central endplate)."""
    tl, tr, bl, br = (corners[:, k] for k in range(4))
    return np.stack([tl, (tl + tr) / 2, tr, bl, (bl + br) / 2, br], axis=1)


def build_aasce_crops(root: Path, split: str, copies: int, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Jittered crops of the real AASCE AP films' annotated bodies (``split`` of the fixed
    split; images whose annotation is defective left out) with their six points (crop
    units), the left side of the crop taken as "anterior" whichever way it is mirrored."""
    x, y = [], []
    for name, part in sorted(fixed_split().items()):
        label = root / "labels" / f"{name}.mat"
        if part != split or not label.exists():
            continue
        corners = by_y(read_corners(label).reshape(-1, 4, 2))
        if annotation_defect(corners[:, [0, 1, 3, 2]]):
            continue
        img = equalised(read_radiograph(root / "images" / name).pixels, PreprocessConfig())
        for xy in corner_points(corners):
            for _ in range(copies):
                c, uv = jittered_crop(img, xy, rng)
                for a, b in ((0, 2), (3, 5)):  # the left one of each edge is "anterior"
                    if uv[a, 0] > uv[b, 0]:
                        uv[[a, b]] = uv[[b, a]]
                x.append(c)
                y.append(uv)
    return np.array(x), np.array(y, np.float32)


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


def augmented(crops: torch.Tensor, processing: bool = False) -> torch.Tensor:
    """uint8 crops (N, H, W) -> the network's input, with a coarser film (down and up
    again), gamma, contrast, brightness and noise jitter; with ``processing`` also a
    vendor's processing and film grain (``processed``)."""
    x, n = crops.float() / 255, len(crops)
    factor = float(np.random.choice([1, 1, 1.5, 2, 3]))
    if factor > 1:
        small = nn.functional.interpolate(x[:, None], scale_factor=1 / factor, mode="area")
        x = nn.functional.interpolate(small, size=x.shape[-2:], mode="bilinear")[:, 0]
    if processing:
        x = processed(x)
    x = x.clamp(1e-4, 1) ** torch.exp(torch.randn(n, 1, 1) * 0.25)
    x = (x - 0.5) * torch.exp(torch.randn(n, 1, 1) * 0.2) + 0.5 + torch.randn(n, 1, 1) * 0.05
    x = x + torch.randn_like(x) * 0.02 * torch.rand(n, 1, 1)
    return to_input(x.clamp(0, 1).mul(255).numpy())


def processed(x: torch.Tensor) -> torch.Tensor:
    """Crops (N, H, W) in [0, 1] as a vendor's processing and a noisy detector leave them:
    on half of them unsharp masking or equalisation (x + a (x - blur), a up to 1.5, the
    blur 1.5-12 px), and on all film grain (sd up to 0.05, 1-3 px) as a small film's
    crop, enlarged to the network's side, shows it."""
    n, side = len(x), x.shape[-1]
    sigma = float(np.random.choice([1.5, 3.0, 6.0, 12.0]))
    size = int(4 * sigma) | 1
    blur = gaussian_blur(x[:, None], [size, size], [sigma, sigma])[:, 0]
    amount = torch.rand(n, 1, 1) * 1.5 * (torch.rand(n, 1, 1) < 0.5)
    x = (x + amount * (x - blur)).clamp(0, 1)
    grain = int(np.random.choice([1, 2, 3]))
    noise = torch.randn(n, 1, side // grain, side // grain)
    noise = nn.functional.interpolate(noise, size=(side, side), mode="bilinear")[:, 0]
    return (x + noise * 0.05 * torch.rand(n, 1, 1)).clamp(0, 1)


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


def _inside(y: np.ndarray) -> np.ndarray:
    """Crops whose six points all lie inside (else no target)."""
    return ((y > 0.02) & (y < 0.98)).all(axis=(1, 2))


def train(out: Path, epochs: int, export: Path, aasce: Path | None = None,
          init: Path | None = None, lr: float = 2e-3, ap_head: bool = False,
          processing: bool = False, seed: int = 0) -> None:
    """Fit on OUT/crops.npz (and the real AASCE crops of ``aasce``, whose middle points the
    loss leaves out; with ``ap_head`` read out by a head of their own, which is not
    exported, so that only the shared layers learn from them), from ``init``'s weights
    where given; export after each epoch."""
    data = np.load(out / "crops.npz")
    inside = _inside(data["yt"])
    xt, yt = (torch.from_numpy(data[k][inside]) for k in ("xt", "yt"))
    known = torch.ones(len(xt), 6)
    is_ap = torch.zeros(len(xt), dtype=torch.bool)
    xv, yv, gv = (torch.from_numpy(data[k]) for k in ("xv", "yv", "gv"))
    sets = ", ".join(data["sets"])
    real = None
    if aasce:
        extra = np.load(aasce)
        keep = _inside(extra["yt"])
        xt = torch.cat([xt, torch.from_numpy(extra["xt"][keep])])
        yt = torch.cat([yt, torch.from_numpy(extra["yt"][keep])])
        known = torch.cat([known, torch.tensor([[1.0, 0, 1, 1, 0, 1]]).repeat(keep.sum(), 1)])
        is_ap = torch.cat([is_ap, torch.ones(int(keep.sum()), dtype=torch.bool)])
        real = torch.from_numpy(extra["xv"]), torch.from_numpy(extra["yv"])
        sets += f" and {keep.sum()} of the real AASCE AP films (corners only)"
    torch.manual_seed(seed)
    np.random.seed(seed)
    net = load_landmarks(init).train() if init else LandmarkNet()
    second = nn.Conv2d(net.head.in_channels, 6, 1) if ap_head else None
    if second is not None:
        second.load_state_dict(net.head.state_dict())
        sets += " (read out by a head of their own, not exported)"
    params = list(net.parameters()) + (list(second.parameters()) if second else [])
    opt = torch.optim.AdamW(params, lr / 2, weight_decay=1e-4)
    steps = len(xt) // 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * steps)
    for epoch in range(epochs):
        start, net = time.time(), net.train()
        order = torch.randperm(len(xt))
        for k in range(steps):
            pick = order[k * 64:(k + 1) * 64]
            x, y, w = (torch.from_numpy(augmented(xt[pick], processing)), yt[pick].clone(),
                       known[pick])
            a = is_ap[pick]
            up = torch.rand(len(pick)) < 0.5  # upside down: superior and inferior swap
            x[up] = x[up].flip(-2)
            y[up, :, 1] = 1 - y[up, :, 1]
            y[up] = y[up][:, [3, 4, 5, 0, 1, 2]]
            features = net.features(x)
            logits = net.head(features)
            if second is not None and a.any():
                logits = torch.where(a[:, None, None, None], second(features), logits)
            uv, p, _ = net.read_out(logits)
            ce = -(target_maps(y) * p.clamp_min(1e-8).log()).sum((-1, -2))
            hw = w[:, :3] * w[:, 3:]
            loss = 20 * (((uv - y).abs().mean(-1) * w).sum() / w.sum()
                         + ((heights(uv) - heights(y)).abs() * hw).sum() / hw.sum()) \
                + 0.05 * (ce * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        print(f"epoch {epoch + 1}: {_report(_predict(net, xv), yv, gv)}"
              + (f"; {_report_real(_predict(net, real[0]), real[1])}" if real else "")
              + (f"; own head: {_report_real(_predict(net, real[0], second), real[1])}"
                 if real and second else "")
              + f" ({time.time() - start:.0f} s)", flush=True)
        save_landmarks(net, export, f"analysis/landmark_train.py, {epoch + 1} of {epochs} "
                       f"epochs on {len(xt)} crops of {sets}"
                       + (f", fine-tuned from {_version(init)}" if init else "")
                       + (", with vendor processing and film grain" if processing else ""))


def _version(weights: Path) -> str:
    """The version in the JSON beside ``weights``, else the file's name."""
    config = Path(weights).with_suffix(".json")
    return json.loads(config.read_text())["version"] if config.exists() else Path(weights).name


def _predict(net: LandmarkNet, x: torch.Tensor, head: nn.Module | None = None
             ) -> torch.Tensor:
    """Points of uint8 crops ``x`` (the network's own head unless ``head`` is given)."""
    head = head or net.head
    with torch.no_grad():
        return torch.cat([
            net.read_out(head(net.features(torch.from_numpy(to_input(x[i:i + 512].numpy())))))[0]
            for i in range(0, len(x), 512)])


def _report_real(uv: torch.Tensor, y: torch.Tensor) -> str:
    """Validation on real AP films: corner error and left / right height MAPE."""
    corners = [0, 2, 3, 5]
    err = (uv[:, corners] - y[:, corners]).norm(dim=-1).mean() * SIDE
    mape = ((heights(uv) / heights(y) - 1).abs().mean(0) * 100).tolist()
    return (f"AASCE corner error {err:.2f} px; left / right height MAPE {mape[0]:.1f} / "
            f"{mape[2]:.1f}%")


SHEET_COLOURS = ((0, 200, 0), (0, 0, 255), (255, 128, 0), (0, 200, 255))  # BGR


def write_sheet(path: Path, x: np.ndarray, y: np.ndarray, points: list[np.ndarray],
                n: int = 24, side: int = 160) -> None:
    """A contact sheet of ``n`` evenly spaced crops: the annotated corners (green) and
    each model's (red, then blue, ...)."""
    tiles = []
    for k in np.linspace(0, len(x) - 1, n).astype(int):
        tile = cv2.cvtColor(cv2.resize(x[k], (side, side)), cv2.COLOR_GRAY2BGR)
        for uv, colour in zip([y, *points], SHEET_COLOURS, strict=False):
            for u, v in uv[k][[0, 2, 3, 5]]:
                cv2.circle(tile, (int(u * side), int(v * side)), 3, colour, -1)
        tiles.append(tile)
    rows = [np.hstack(tiles[i:i + 6]) for i in range(0, n, 6)]
    cv2.imwrite(str(path), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["crops", "aasce-crops", "train", "aasce-eval"])
    ap.add_argument("models", nargs="*", type=Path,
                    help="aasce-eval: landmark models (.safetensors) to compare")
    ap.add_argument("--out", type=Path, default=Path("runs/landmarks"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--export", type=Path, help="ONNX path (default: OUT/vertebra_landmarks)")
    ap.add_argument("--fracture-copies", type=int, default=FRACTURE_COPIES,
                    help="crops of a fractured body per crop of an intact one")
    ap.add_argument("--sets", nargs="+", default=TRAIN_SETS,
                    help="training set folders (their train and val parts)")
    ap.add_argument("--aasce", type=Path, help="aasce-crops: the AASCE folder (default "
                    "../shared/data/aasce-ap); train: its crops file to mix in")
    ap.add_argument("--copies", type=int, default=2, help="aasce-crops: crops per body")
    ap.add_argument("--init", type=Path, help="train: start from these weights")
    ap.add_argument("--lr", type=float, default=2e-3, help="train: the one-cycle peak")
    ap.add_argument("--sheet", type=Path, help="aasce-eval: write a contact sheet (JPEG)")
    ap.add_argument("--ap-head", action="store_true",
                    help="train: read the AASCE crops out by a head of their own")
    ap.add_argument("--seed", type=int, default=0, help="train: the random seed (order, "
                    "augmentation)")
    ap.add_argument("--processing", action="store_true", help="train: also augment with "
                    "a vendor's processing (unsharp masking, equalisation) and film grain")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if args.step == "crops":
        (xt, yt, gt), (xv, yv, gv) = (
            build_crops("train", 2, rng, args.fracture_copies, args.sets),
            build_crops("val", 1, rng, sets=args.sets))
        np.savez_compressed(args.out / "crops.npz", xt=xt, yt=yt, gt=gt, xv=xv, yv=yv, gv=gv,
                            sets=np.array(args.sets))
        print(f"{len(xt)} training and {len(xv)} validation crops in {args.out}")
    elif args.step == "aasce-crops":
        root = args.aasce or shared_data_dir() / "aasce-ap"
        (xt, yt), (xv, yv) = (build_aasce_crops(root, "train", args.copies, rng),
                              build_aasce_crops(root, "val", 1, rng))
        np.savez_compressed(args.out / "aasce.npz", xt=xt, yt=yt, xv=xv, yv=yv)
        print(f"{len(xt)} training and {len(xv)} validation AASCE crops in {args.out}")
    elif args.step == "aasce-eval":
        root = args.aasce or shared_data_dir() / "aasce-ap"
        x, y = build_aasce_crops(root, "test", 1, rng)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        print(f"AASCE test part, {len(x)} jittered crops")
        points = [_predict(load_landmarks(model), x) for model in args.models]
        for model, uv in zip(args.models, points, strict=True):
            print(f"{model}: {_report_real(uv, y)}")
        if args.sheet:
            write_sheet(args.sheet, x.numpy(), y.numpy(), [uv.numpy() for uv in points])
    else:
        train(args.out, args.epochs, args.export or args.out / "vertebra_landmarks.onnx",
              args.aasce, args.init, args.lr, args.ap_head, args.processing, args.seed)


if __name__ == "__main__":
    main()
