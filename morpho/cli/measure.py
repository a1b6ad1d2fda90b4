"""`morpho measure`: count, label and measure the vertebrae of radiographs."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import track

from morpho.cli.common import FlipOption, View, console, expand_inputs, fail, finish, run_each
from morpho.errors import MorphoError
from morpho.label import check_level


class Side(str, Enum):
    left = "left"
    right = "right"


def _mask_for(image: Path, mask: Path | None) -> Path | None:
    if mask is None or mask.is_file():
        return mask
    candidate = mask / f"{image.stem}_mask.png"
    if not candidate.is_file():
        raise MorphoError(image, f"no mask {candidate.name} in {mask}")
    return candidate


def measure(
    inputs: Annotated[list[Path], typer.Argument(help="Radiograph files or folders.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    mask: Annotated[
        Path | None,
        typer.Option("--mask", help="A mask PNG (one input) or a folder of <stem>_mask.png."),
    ] = None,
    first_level: Annotated[
        str | None, typer.Option("--first-level", help="Name of the first visible body, e.g. T4.")
    ] = None,
    anterior: Annotated[
        Side | None, typer.Option("--anterior", help="Side of the image the anterior is on.")
    ] = None,
    view: Annotated[View | None, typer.Option("--view", help="Override the file's view.")] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="ONNX model (default: the shipped one).")
    ] = None,
    flip: FlipOption = None,
) -> None:
    """Write OUT/measurements.csv (one row per vertebra) and OUT/<stem>_measure.png."""
    from morpho.atomic import atomic_write, write_png
    from morpho.pipeline import measure_image, overlay

    try:
        first_level = check_level(first_level)
    except ValueError as exc:
        fail(str(exc))
    files = expand_inputs(inputs, skip=[p for p in (mask, out) if p is not None and p.is_dir()])
    if mask is not None and mask.is_file() and len(files) > 1:
        fail("--mask FILE needs exactly one input; give a folder of <stem>_mask.png")
    if mask is not None and not mask.exists():
        fail("mask not found", mask)
    tables: list[pd.DataFrame] = []
    segmenter = None
    if mask is None:  # one model for all files; no model is one error, not one a file
        from morpho.segment.infer import Segmenter

        try:
            segmenter = Segmenter(model, flip=flip)
        except MorphoError as exc:
            fail(f"{exc.cause}; give --mask", exc.path)

    def one(path: Path) -> None:
        given = _mask_for(path, mask)
        rg, body_mask, df = measure_image(
            path, segmenter=segmenter, mask=given, first_level=first_level,
            anterior=anterior.value if anterior else None, view=view.value if view else None,
        )
        if df.empty:
            console.print(f"note: {path}: no vertebral bodies found")
        write_png(out / f"{path.stem}_measure.png", overlay(rg.pixels, body_mask, df))
        tables.append(df)

    failures = run_each(track(files, description="measuring", console=console), one)
    if tables:
        table = pd.concat(tables, ignore_index=True)
        atomic_write(out / "measurements.csv", lambda tmp: table.to_csv(tmp, index=False))
        rows = sum(len(t) for t in tables)
        console.print(f"{rows} vertebrae from {len(tables)} image(s) -> {out / 'measurements.csv'}")
    finish(failures, len(files))


def register(app: typer.Typer) -> None:
    """Register ``morpho measure``."""
    app.command("measure")(measure)
