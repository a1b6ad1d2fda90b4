"""Generate whole synthetic sets (DRR and phantom) into one folder each."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from rich.progress import Progress

from morpho.errors import MorphoError
from morpho.synth.anatomy import Anatomy, deform_ct
from morpho.synth.ctvolume import CTVolume, load_ct
from morpho.synth.drr import DRRParams, DRRSource, render_drr
from morpho.synth.output import SetWriter
from morpho.synth.phantom import PhantomParams, render_phantom

DEFAULT_WEIGHTS = {"lidc-idri-0001": 6.0, "totalseg-example": 2.0, "tptbox-l22": 0.8}


def ct_folders(root: str | Path) -> list[Path]:
    """Every sub-folder of ``root`` holding a NIfTI file (``root`` itself if it holds one)."""
    root = Path(root)
    if not root.is_dir():
        raise MorphoError(root, "not a folder")
    if any(root.glob("*.nii*")):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.nii*")))


def plan_drr_set(
    names: Sequence[str], n: int, test_names: Sequence[str] = (), val_share: float = 0.06,
    weights: dict[str, float] | None = None, seed: int = 0,
) -> list[tuple[str, str]]:
    """(volume name, split) per image: held-out volumes are ``test``, a share of the
    others ``val``; volumes are drawn in proportion to ``weights`` (default 1)."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    w = np.array([weights.get(name, 1.0) for name in names], float)
    counts = np.floor(n * w / w.sum()).astype(int)
    counts[np.argmax(w)] += n - counts.sum()
    rng = np.random.default_rng(seed)
    plan: list[tuple[str, str]] = []
    for name, count in zip(names, counts, strict=True):
        if name in test_names:
            plan += [(name, "test")] * count
        else:
            n_val = int(round(count * val_share))
            plan += [(name, "val")] * n_val + [(name, "train")] * (count - n_val)
    order = rng.permutation(len(plan))
    return [plan[i] for i in order]


# per worker process: each CT loads once, each (CT, realism, anatomy variant) source is
# prepared once
_CTS: dict[str, CTVolume] = {}
_SOURCES: dict[tuple[str, bool, int], DRRSource] = {}


def _render_one(job: tuple) -> object:
    """Worker: render image ``i`` of a plan (CTs and sources cached per process)."""
    folder, i, seed, size, view, left_share, bone_boost, fracture_rate, realism, k = job
    if (folder, realism, k) not in _SOURCES:
        if folder not in _CTS:
            _CTS[folder] = load_ct(folder)
        anatomy = Anatomy.variant(seed, Path(folder).name, k)
        _SOURCES[folder, realism, k] = DRRSource(deform_ct(_CTS[folder], anatomy),
                                                 bone_boost, detail=realism)  # fmt: skip
    source = _SOURCES[folder, realism, k]
    rng = np.random.default_rng([seed, i])
    params = DRRParams.sample(rng, source, (size, size), view, left_share, fracture_rate,
                              realism=realism)  # fmt: skip
    return render_drr(source, params, rng)


def make_drr_set(
    ct_root: str | Path, out: str | Path, n: int, seed: int = 0, size: int = 512,
    view: str = "lateral", test_names: Sequence[str] = (), left_share: float = 0.8,
    bone_boost: float = 2.0, name: str = "synth-drr", workers: int = 1,
    fracture_rate: float = 0.0, dicom: bool = False, realism: bool = True,
    anatomies: int = 1,
) -> Path:
    """Render ``n`` DRRs from every CT under ``ct_root`` into ``out`` (images, masks,
    labels, truth.csv, dataset.json). Image i depends only on (seed, i) and the volumes;
    ``realism`` (``morpho.synth.realism``) changes neither pose nor exposure. With
    ``anatomies`` K > 1, image i of a training or validation CT comes from variant i % K of
    its anatomy (``morpho.synth.anatomy``; variant 0 is the CT as it is); held-out (test)
    CTs are never deformed."""
    folders = {p.name: p for p in ct_folders(ct_root)}
    if not folders:
        raise MorphoError(ct_root, "no CT folders (NIfTI volumes) found")
    plan = plan_drr_set(sorted(folders), n, test_names, seed=seed)
    jobs = [(str(folders[vol]), i, seed, size, view, left_share, bone_boost, fracture_rate,
             realism, 0 if part == "test" else i % max(anatomies, 1))
            for i, (vol, part) in enumerate(plan)]
    writer = SetWriter(out, name, view, dicom)
    with Progress() as progress, ProcessPoolExecutor(workers) as pool:
        task = progress.add_task(f"DRR {view}", total=len(plan))
        results = pool.map(_render_one, jobs) if workers > 1 else map(_render_one, jobs)
        for i, synth in enumerate(results):
            writer.add(f"drr{i:05d}", synth, plan[i][1])
            if (i + 1) % 50 == 0:
                writer.close()
            progress.advance(task)
    writer.close()
    return Path(out)


def _render_phantom(job: tuple) -> object:
    i, seed, size, fracture_rate, left_share = job
    rng = np.random.default_rng([seed, i])
    return render_phantom(PhantomParams.sample(rng, (size, size), fracture_rate, left_share))


def make_phantom_set(
    out: str | Path, n: int, seed: int = 0, size: int = 512, fracture_rate: float = 0.0,
    left_share: float = 0.8, val_share: float = 0.1, name: str = "synth-phantom",
    workers: int = 1, dicom: bool = False,
) -> Path:
    """Render ``n`` phantoms into ``out``; image i depends only on (seed, i)."""
    writer = SetWriter(out, name, "lateral", dicom)
    jobs = [(i, seed, size, fracture_rate, left_share) for i in range(n)]
    n_val = int(round(n * val_share))
    with Progress() as progress, ProcessPoolExecutor(workers) as pool:
        task = progress.add_task("phantoms", total=n)
        results = pool.map(_render_phantom, jobs, chunksize=8) if workers > 1 else map(
            _render_phantom, jobs)
        for i, synth in enumerate(results):
            writer.add(f"ph{i:05d}", synth, "val" if i < n_val else "train")
            progress.advance(task)
    writer.close()
    return Path(out)
