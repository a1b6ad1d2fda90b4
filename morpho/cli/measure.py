"""`morpho measure`: count, label and measure the vertebrae of radiographs."""

from __future__ import annotations

from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import track

from morpho.cli.common import (
    FlipOption,
    InputFile,
    View,
    console,
    expand_inputs,
    fail,
    finish,
    run_each,
)
from morpho.errors import MorphoError
from morpho.io.files import inside
from morpho.label import check_level


class Side(str, Enum):
    left = "left"
    right = "right"


def _mask_for(file: InputFile, mask: Path | None, stems: Counter) -> Path | None:
    """The mask file given, or ``<name>_mask.png`` in the mask folder (the tree ``segment``
    writes), or ``<stem>_mask.png`` there when no other input has the same stem."""
    if mask is None or mask.is_file():
        return mask
    candidate = inside(mask, f"{file.name}_mask.png")
    flat = mask / f"{file.path.stem}_mask.png"
    if not candidate.is_file() and stems[file.path.stem] == 1 and flat.is_file():
        return flat
    if not candidate.is_file():
        raise MorphoError(file.path, f"no mask {file.name}_mask.png in {mask}")
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
    """Write OUT/measurements.csv (one row per vertebra; ``image`` a unique name, ``file`` the
    path under the input folder) and OUT/<image>_measure.png (mirroring the input tree)."""
    from morpho.atomic import atomic_write, write_png
    from morpho.pipeline import measure_image, overlay

    try:
        first_level = check_level(first_level)
    except ValueError as exc:
        fail(str(exc))
    files = expand_inputs(inputs, skip=[out, *([mask] if mask is not None else [])])
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

    stems = Counter(file.path.stem for file in files)

    def one(file: InputFile) -> None:
        rg, body_mask, df = measure_image(
            file.path, segmenter=segmenter, mask=_mask_for(file, mask, stems),
            first_level=first_level, anterior=anterior.value if anterior else None,
            view=view.value if view else None, image=file.name,
        )
        if df.empty:
            console.print(f"note: {file.path}: no vertebral bodies found")
        write_png(inside(out, f"{file.name}_measure.png"), overlay(rg.pixels, body_mask, df))
        tables.append(df.assign(file=file.key))

    failures = run_each(
        track(files, description="measuring", console=console), one, name=lambda f: str(f.path)
    )
    if tables:
        table = pd.concat(tables, ignore_index=True)
        atomic_write(out / "measurements.csv", lambda tmp: table.to_csv(tmp, index=False))
        rows = sum(len(t) for t in tables)
        console.print(f"{rows} vertebrae from {len(tables)} image(s) -> {out / 'measurements.csv'}")
    finish(failures, len(files))


def register(app: typer.Typer) -> None:
    """Register ``morpho measure``."""
    app.command("measure")(measure)
