"""Contact sheet of synthetic lateral radiographs (DRRs and phantoms) with the body masks
outlined (green intact, red fractured, yellow 6-point heights), and generation speed.

    python analysis/synth_contact_sheet.py [--out out/synth_contact_sheet.png] [--n 6]
        [--size 512] [--speed 200]
    python analysis/synth_contact_sheet.py --compare data/synth data/synth-v2 \
        [--out out/synth_real_vs_synth.png] [--n 5]

Prints images per second for phantoms and DRRs (one process, this CPU). ``--compare OLD NEW``
instead shows real films (the PA chest DX and AASCE AP films in ../shared) above the first
DRRs of two sets (sets built with the same command, seed and CTs hold the same CT, pose and
exposure per index, e.g. data/synth and data/synth-v2: before/after realism).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from morpho.io.reader import read_radiograph  # noqa: E402
from morpho.resources import shared_data_dir  # noqa: E402
from morpho.synth import DATASET_LEVELS  # noqa: E402
from morpho.synth.ctvolume import load_ct  # noqa: E402
from morpho.synth.drr import DRRParams, DRRSource, render_drr  # noqa: E402
from morpho.synth.output import Synthetic  # noqa: E402
from morpho.synth.phantom import PhantomParams, render_phantom  # noqa: E402

TILE = 320


def tile(synth: Synthetic, title: str) -> np.ndarray:
    """8-bit BGR tile: the image beside the same image with masks and heights drawn."""
    gray = (synth.image >> 8).astype(np.uint8)
    over = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    fractured = {DATASET_LEVELS.index(lv) + 1 for lv in synth.fractures}
    for k in np.unique(synth.labels)[1:]:
        contours, _ = cv2.findContours((synth.labels == k).astype(np.uint8),
                                       cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        colour = (0, 0, 255) if k in fractured else (0, 200, 0)
        cv2.drawContours(over, contours, -1, colour, 2 if k in fractured else 1)
    for _, row in synth.truth.iterrows():
        for col in ("ant", "mid", "post"):
            a = (int(row[f"{col}_sup_x"]), int(row[f"{col}_sup_y"]))
            b = (int(row[f"{col}_inf_x"]), int(row[f"{col}_inf_y"]))
            cv2.line(over, a, b, (0, 220, 255), 1)
    pair = np.hstack([cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), over])
    scale = TILE / pair.shape[0]
    pair = cv2.resize(pair, (int(pair.shape[1] * scale), TILE), interpolation=cv2.INTER_AREA)
    cv2.putText(pair, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
    return pair


def film_tile(path: Path, title: str) -> np.ndarray:
    """8-bit BGR tile of a film (min/max stretched), TILE px high, titled."""
    pixels = read_radiograph(path).pixels
    lo, hi = float(pixels.min()), float(pixels.max())
    gray = ((pixels - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8)
    scale = TILE / gray.shape[0]
    gray = cv2.resize(gray, (max(1, int(gray.shape[1] * scale)), TILE),
                      interpolation=cv2.INTER_AREA)
    out = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    cv2.putText(out, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
    return out


def compare_sheet(old: Path, new: Path, n: int) -> np.ndarray:
    """Rows: real films, then the first ``n`` DRRs of ``old`` and the same ones of ``new``."""
    shared = shared_data_dir()
    aasce = sorted((shared / "aasce-ap" / "images").glob("*.jpg"))[:: 97][: n - 1]
    rows = [[film_tile(shared / "dicom" / "dx_chest_pa_j2k.dcm", "real DX PA chest")]
            + [film_tile(p, "real AASCE AP") for p in aasce]]
    names = sorted(p.name for p in (new / "images").glob("*.png"))[:n]
    for folder in (old, new):
        rows.append([film_tile(folder / "images" / name, f"{folder.name} {Path(name).stem}")
                     for name in names if (folder / "images" / name).exists()])
    lines = [np.hstack(r) for r in rows]
    width = max(line.shape[1] for line in lines)
    return np.vstack([np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)))
                      for line in lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/synth_contact_sheet.png"))
    parser.add_argument("--n", type=int, default=6, help="tiles per kind")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--speed", type=int, default=200, help="phantoms to time")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("OLD", "NEW"),
                        help="real films above the same DRRs of two sets")
    args = parser.parse_args()
    if args.compare:
        out = args.out if args.out != parser.get_default("out") else Path(
            "out/synth_real_vs_synth.png")
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), compare_sheet(*args.compare, args.n))
        print(f"contact sheet: {out}")
        return
    size = (args.size, args.size)
    tiles = []
    ct_root = shared_data_dir() / "ct"
    names = ["lidc-idri-0001", "lidc-idri-0001", "verse012", "totalseg-example", "tptbox-l22"]
    drr_seconds, drr_count = 0.0, 0
    sources: dict[str, DRRSource] = {}
    for i in range(args.n):
        name = names[i % len(names)]
        if not (ct_root / name).is_dir():
            continue
        if name not in sources:
            sources[name] = DRRSource(load_ct(ct_root / name), bone_boost=2.0)
        rng = np.random.default_rng([args.seed, i])
        params = DRRParams.sample(rng, sources[name], size, fracture_rate=0.12)
        start = time.perf_counter()
        synth = render_drr(sources[name], params, rng)
        drr_seconds += time.perf_counter() - start
        drr_count += 1
        tiles.append(tile(synth, f"DRR {name} {params.facing} {list(synth.fractures)}"))
    for i in range(args.n):
        rng = np.random.default_rng([args.seed, 1000 + i])
        synth = render_phantom(PhantomParams.sample(rng, size, fracture_rate=0.12))
        tiles.append(tile(synth, f"phantom {synth.facing} {list(synth.fractures)}"))
    start = time.perf_counter()
    for i in range(args.speed):
        render_phantom(PhantomParams.sample(np.random.default_rng(i), size, 0.05))
    phantom_rate = args.speed / (time.perf_counter() - start)
    rows = [np.hstack(tiles[i:i + 2]) for i in range(0, len(tiles) - 1, 2)]
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet)
    print(f"contact sheet: {args.out} ({len(tiles)} images)")
    print(f"phantom {size[0]}x{size[1]}: {phantom_rate:.1f} images/s (1 process)")
    if drr_count:
        print(f"DRR {size[0]}x{size[1]}: {drr_count / drr_seconds:.2f} images/s "
              f"(1 process, render only, mixed CTs)")


if __name__ == "__main__":
    main()
