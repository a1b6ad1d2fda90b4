"""`morpho segment INPUT... --out DIR`: vertebral body masks with the default (or a given) model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import track

from morpho.cli.common import (
    FlipOption,
    InputFile,
    SpineOnlyOption,
    console,
    expand_inputs,
    fail,
    finish,
    run_each,
)
from morpho.errors import MorphoError


def segment_one(segmenter, file: InputFile, out: Path) -> None:
    """Write ``<name>_mask.png``, ``<name>_prob.png`` (with a core output also
    ``<name>_core.png``, which ``morpho measure --mask`` reads beside the mask too) and
    ``<name>_overlay.png`` under ``out``, ``name`` being the file's collision-free output
    name (it mirrors the input tree)."""
    from morpho.atomic import write_png
    from morpho.io import read_radiograph
    from morpho.io.files import inside
    from morpho.segment.overlay import BLUE, draw_outlines

    pixels = read_radiograph(file.path).pixels
    mask, prob, cores = segmenter.segment_with_cores(pixels)
    write_png(inside(out, f"{file.name}_mask.png"), mask.astype(np.uint8) * 255)
    write_png(inside(out, f"{file.name}_prob.png"), np.round(prob * 255).astype(np.uint8))
    if cores is not None:
        write_png(inside(out, f"{file.name}_core.png"), np.round(cores * 255).astype(np.uint8))
    write_png(inside(out, f"{file.name}_overlay.png"), draw_outlines(pixels, [(mask, BLUE)]))


def register(app: typer.Typer) -> None:
    @app.command()
    def segment(
        inputs: Annotated[
            list[Path], typer.Argument(help="Radiograph files or folders.", metavar="INPUT...")
        ],
        out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
        model: Annotated[
            Path | None, typer.Option(help="ONNX model (default: the shipped one).")
        ] = None,
        flip: FlipOption = None,
        spine: SpineOnlyOption = True,
    ) -> None:
        """Find the vertebral bodies: a mask, probability and overlay per film.

        Writes OUT/<name>_mask.png (0/255, original size), <name>_prob.png and
        <name>_overlay.png; <name> is the file's path under the input folder without its
        suffix."""
        from morpho.segment.infer import Segmenter

        files = expand_inputs(inputs, skip=[out])
        try:
            segmenter = Segmenter(model, flip=flip, spine_only=spine)
        except MorphoError as exc:
            fail(exc.cause, exc.path)
        failures = run_each(
            track(files, description="segmenting", console=console),
            lambda file: segment_one(segmenter, file, out),
            name=lambda file: str(file.path),
        )
        console.print(f"{len(files) - len(failures)} of {len(files)} segmented into {out}")
        finish(failures, len(files))
