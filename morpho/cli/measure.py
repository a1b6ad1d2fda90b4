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
    known_levels,
    run_each,
)
from morpho.errors import MorphoError
from morpho.io.files import inside


class Side(str, Enum):
    left = "left"
    right = "right"


Inputs = Annotated[
    list[Path], typer.Argument(help="Radiograph files or folders.", metavar="INPUT...")
]
OutOption = Annotated[Path, typer.Option("--out", help="Output folder.")]
MaskOption = Annotated[
    Path | None,
    typer.Option("--mask", help="A mask PNG (one input) or a folder of <stem>_mask.png."),
]
FirstLevelOption = Annotated[
    str | None, typer.Option("--first-level", help="Level of the first whole body, e.g. T4 "
                 "(one cut by the film's top edge is the level before).")
]
LastLevelOption = Annotated[
    str | None, typer.Option("--last-level", help="Or the level of the last whole body, "
                             "e.g. L1, counting up (one cut by the film's bottom edge is "
                             "the level after).")
]
AnteriorOption = Annotated[
    Side | None, typer.Option("--anterior", help="Side of the image the anterior is on.")
]
ViewOption = Annotated[View | None, typer.Option("--view", help="Override the file's view.")]
ModelOption = Annotated[
    Path | None, typer.Option("--model", help="ONNX model (default: the shipped one).")
]


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


def _segmenter(model: Path | None, flip: bool | None) -> object:
    """One model for all files; no model is one error, not one a file."""
    from morpho.segment.infer import Segmenter

    try:
        return Segmenter(model, flip=flip, spine_only=False)
    except MorphoError as exc:
        fail(f"{exc.cause}; give --mask", exc.path)


def _checked_inputs(inputs: list[Path], out: Path, mask: Path | None) -> list[InputFile]:
    files = expand_inputs(inputs, skip=[out, *([mask] if mask is not None else [])])
    if mask is not None and mask.is_file() and len(files) > 1:
        fail("--mask FILE needs exactly one input; give a folder of <stem>_mask.png")
    if mask is not None and not mask.exists():
        fail("mask not found", mask)
    return files


def measure(
    inputs: Inputs,
    out: OutOption,
    mask: MaskOption = None,
    first_level: FirstLevelOption = None,
    last_level: LastLevelOption = None,
    anterior: AnteriorOption = None,
    view: ViewOption = None,
    model: ModelOption = None,
    flip: FlipOption = None,
) -> None:
    """Count, name and measure the vertebrae: six-point heights, ratios, Genant grades.

    Writes OUT/measurements.csv (one row per vertebra; `image` a unique name, `file` the
    path under the input folder) and OUT/<image>_measure.png (mirroring the input tree)."""
    from morpho.atomic import atomic_write, write_png
    from morpho.chain import FilmSettings
    from morpho.pipeline import measure_file
    from morpho.report.overlay import overlay_image

    first_level, last_level = known_levels(first_level, last_level)
    settings = FilmSettings(first_level=first_level, last_level=last_level,
                            view=view.value if view else None,
                            anterior=anterior.value if anterior else None)  # fmt: skip
    files = _checked_inputs(inputs, out, mask)
    segmenter = _segmenter(model, flip) if mask is None else None
    stems = Counter(file.path.stem for file in files)
    tables: list[pd.DataFrame] = []

    def one(file: InputFile) -> None:
        result = measure_file(file.path, settings, segmenter=segmenter,
                              mask=_mask_for(file, mask, stems), image=file.name)  # fmt: skip
        if result.table.empty:
            console.print(f"note: {file.path}: no vertebral bodies found")
        picture = overlay_image(result.radiograph.pixels, result.table, result.shape,
                                max_side=None, labels=result.labels(), legend=True)  # fmt: skip
        write_png(inside(out, f"{file.name}_measure.png"), picture)
        tables.append(result.table.assign(file=file.key))

    failures = run_each(
        track(files, description="measuring", console=console), one, name=lambda f: str(f.path)
    )
    if tables:
        table = pd.concat(tables, ignore_index=True)
        atomic_write(out / "measurements.csv", lambda tmp: table.to_csv(tmp, index=False))
        console.print(f"{len(table)} vertebrae from {len(tables)} image(s) -> "
                      f"{out / 'measurements.csv'}")  # fmt: skip
        console.print(_summary(table))
    finish(failures, len(files))


def _summary(table: pd.DataFrame) -> str:
    """One line: how many bodies were plausible and gradable, and the grade >= 2 calls
    (the film-level results of ``grade.subject_calls``)."""
    from morpho.grade import subject_calls

    films = subject_calls(table)
    called = int((table["genant_grade"] >= 2).sum())
    return (f"  {int(table['plausible'].astype(bool).sum())} plausible, "
            f"{int(films['gradable'].sum())} gradable; {called} at grade >= 2 on "
            f"{int(films['any_grade2'].sum())} image(s)")


def register(app: typer.Typer) -> None:
    """Register ``morpho measure``."""
    app.command("measure")(measure)
