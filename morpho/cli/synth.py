"""`morpho synth`: synthetic radiographs with exact truth (DRR, phantom) and cohorts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from morpho.cli.common import console, fail
from morpho.errors import MorphoError

synth_app = typer.Typer(help="Synthetic radiographs and cohorts with exact truth.",
                        no_args_is_help=True)


# Options shared by the image generators.
Count = Annotated[int, typer.Option("--n", help="Number of images.")]
Seed = Annotated[int, typer.Option("--seed")]
Size = Annotated[int, typer.Option("--size", help="Image side in pixels.")]
LeftShare = Annotated[float, typer.Option("--left-share", help="Share facing left.")]
Workers = Annotated[int, typer.Option("--workers", help="Processes.")]
Dicom = Annotated[bool, typer.Option("--dicom", help="Images as DICOM, not PNG.")]


def _default_ct() -> Path:
    from morpho.resources import shared_data_dir

    return shared_data_dir() / "ct"


@synth_app.command("drr")
def drr(
    out: Annotated[Path, typer.Option("--out", help="Output folder (images, masks, truth, JSON).")],
    ct: Annotated[
        Path | None, typer.Option("--ct", help="CT folder, or a folder of CT folders.")
    ] = None,
    n: Count = 100,
    seed: Seed = 0,
    size: Size = 512,
    view: Annotated[str, typer.Option("--view", help="lateral or ap.")] = "lateral",
    test: Annotated[
        list[str] | None,
        typer.Option("--test", help="CT folder name held out as `test` (repeat for several)."),
    ] = None,
    left_share: LeftShare = 0.8,
    fracture_rate: Annotated[float, typer.Option("--fracture-rate", help="Per-level rate.")] = 0.0,
    workers: Workers = 1,
    dicom: Dicom = False,
    realism: Annotated[bool, typer.Option(
        "--realism/--no-realism", help="Cortical shells, disc space, arms, vendor processing."
    )] = True,
    anatomies: Annotated[int, typer.Option(
        "--anatomies", help="Anatomy variants per training CT (spine stretched, bent, "
        "osteopenic; 1: the CTs as they are)."
    )] = 1,
) -> None:
    """Render DRRs (cone/parallel beam, random pose, exposure) from CTs with vertebra masks."""
    from morpho.synth.sets import make_drr_set

    if view not in ("lateral", "ap"):
        fail(f"--view must be lateral or ap, not {view}")
    try:
        make_drr_set(ct or _default_ct(), out, n, seed=seed, size=size, view=view,
                     test_names=test or (), left_share=left_share, fracture_rate=fracture_rate,
                     workers=workers, dicom=dicom, realism=realism, anatomies=anatomies)
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    console.print(f"{n} DRRs in {out}")


@synth_app.command("phantom")
def phantom(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    n: Count = 100,
    seed: Seed = 0,
    size: Size = 512,
    fracture_rate: Annotated[float, typer.Option("--fracture-rate", help="Per-level rate.")] = 0.05,
    left_share: LeftShare = 0.8,
    workers: Workers = 1,
    dicom: Dicom = False,
) -> None:
    """Render parametric lateral thoracolumbar phantoms."""
    from morpho.synth.sets import make_phantom_set

    make_phantom_set(out, n, seed=seed, size=size, fracture_rate=fracture_rate,
                     left_share=left_share, workers=workers, dicom=dicom)
    console.print(f"{n} phantoms in {out}")


@synth_app.command("cohort")
def cohort(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    n: Annotated[int, typer.Option("--n", help="Number of subjects.")] = 500,
    seed: Seed = 0,
) -> None:
    """Simulate a cohort: demographics.csv and measurements.csv with true grades."""
    from morpho.atomic import write_text
    from morpho.synth.cohort import simulate_cohort

    demographics, measurements = simulate_cohort(n, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "demographics.csv", demographics.to_csv(index=False))
    write_text(out / "measurements.csv", measurements.to_csv(index=False))
    console.print(f"{n} subjects in {out}")


def register(app: typer.Typer) -> None:
    """Add the `synth` command group."""
    app.add_typer(synth_app, name="synth")
