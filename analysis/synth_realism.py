"""How close synthetic films come to real ones in intensity and edge statistics.

    python analysis/synth_realism.py data/synth data/synth-v2 [--n 40]
        [--out out/synth_realism]

Every film goes through the model's preprocessing (min/max to 8 bit, CLAHE clip 2 on 8x8
tiles, area resize to 512 px on the long side). Pooled per set: CLAHE'd intensities,
Sobel gradient magnitudes and |Laplacian| (fine edges). Each synthetic set is compared with
the real films in ../shared (the PA chest DX and AASCE AP spine films) by the Wasserstein-1
distance and the Kolmogorov-Smirnov statistic. Writes ``stats.csv`` and ``hist.png``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import ks_2samp, wasserstein_distance  # noqa: E402

from morpho.io.reader import read_radiograph  # noqa: E402
from morpho.resources import shared_data_dir  # noqa: E402

SIDE = 512
SAMPLES = 20000  # pixels drawn per film and statistic
STATS = ("intensity", "gradient", "laplacian")


def prepared(path: Path) -> np.ndarray:
    """The film as the network sees it, in [0, 1]."""
    pixels = read_radiograph(path).pixels
    lo, hi = float(pixels.min()), float(pixels.max())
    u8 = ((pixels - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8)
    eq = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(u8)
    scale = SIDE / max(eq.shape)
    size = (max(1, round(eq.shape[1] * scale)), max(1, round(eq.shape[0] * scale)))
    return cv2.resize(eq, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def film_stats(image: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Samples of each statistic over one film."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    values = {"intensity": image, "gradient": np.hypot(gx, gy),
              "laplacian": np.abs(cv2.Laplacian(image, cv2.CV_32F, ksize=3))}
    idx = rng.integers(0, image.size, SAMPLES)
    return {k: v.ravel()[idx] for k, v in values.items()}


def set_stats(paths: list[Path], seed: int = 0) -> dict[str, np.ndarray]:
    """Pooled samples of every statistic over ``paths``."""
    rng = np.random.default_rng(seed)
    parts = [film_stats(prepared(p), rng) for p in paths]
    return {k: np.concatenate([p[k] for p in parts]) for k in STATS}


def pick(folder: Path, pattern: str, n: int, seed: int = 0) -> list[Path]:
    files = sorted(folder.glob(pattern))
    if len(files) <= n:
        return files
    return [files[i] for i in sorted(np.random.default_rng(seed).choice(len(files), n, False))]


def compare(real: dict[str, dict], synth: dict[str, dict]) -> pd.DataFrame:
    """Wasserstein-1 and KS per synthetic set, real set and statistic."""
    rows = []
    for s_name, s in synth.items():
        for r_name, r in real.items():
            for stat in STATS:
                rows.append({"synthetic": s_name, "real": r_name, "statistic": stat,
                             "wasserstein": wasserstein_distance(s[stat], r[stat]),
                             "ks": ks_2samp(s[stat], r[stat]).statistic,
                             "median_synth": float(np.median(s[stat])),
                             "median_real": float(np.median(r[stat]))})
    return pd.DataFrame(rows)


def plot(sets: dict[str, dict], out: Path) -> None:
    fig, axes = plt.subplots(1, len(STATS), figsize=(5 * len(STATS), 3.6))
    for ax, stat in zip(axes, STATS, strict=True):
        top = max(np.percentile(s[stat], 99.5) for s in sets.values())
        for name, s in sets.items():
            ax.hist(s[stat], bins=80, range=(0, top), density=True, histtype="step", label=name)
        ax.set_title(stat)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("synthetic", nargs="+", type=Path, help="synthetic set folders")
    parser.add_argument("--n", type=int, default=40, help="films per set")
    parser.add_argument("--out", type=Path, default=Path("out/synth_realism"))
    args = parser.parse_args()
    shared = shared_data_dir()
    real = {"DX PA chest": set_stats([shared / "dicom" / "dx_chest_pa_j2k.dcm"]),
            "AASCE AP": set_stats(pick(shared / "aasce-ap" / "images", "*.jpg", args.n))}
    synth = {p.name: set_stats(pick(p / "images", "*.png", args.n)) for p in args.synthetic}
    table = compare(real, synth)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "stats.csv", index=False)
    plot({**real, **synth}, args.out / "hist.png")
    wide = table.pivot_table(index=["real", "statistic"], columns="synthetic",
                             values=["wasserstein", "ks"])
    print(wide.round(4).to_string())
    print(f"\n{args.out / 'stats.csv'}, {args.out / 'hist.png'}")


if __name__ == "__main__":
    main()
