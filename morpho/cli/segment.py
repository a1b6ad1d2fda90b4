"""`morpho segment INPUT... --out DIR`: vertebral body masks with the default (or a given) model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import track

from morpho.cli.common import (
    FlipOption,
    SpineOnlyOption,
    console,
    expand_inputs,
    fail,
    finish,
    run_each,
)
from morpho.errors import MorphoError


def register(app: typer.Typer) -> None:
    @app.command()
    def segment(
        inputs: Annotated[list[Path], typer.Argument(help="Radiograph files or folders.")],
        out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out"),
        model: Annotated[
            Path | None, typer.Option(help="ONNX model (default: the shipped one).")
        ] = None,
        flip: FlipOption = None,
        spine: SpineOnlyOption = True,
    ) -> None:
        """Write <stem>_mask.png (0/255, original size), <stem>_prob.png and <stem>_overlay.png."""
        from morpho.segment.infer import Segmenter, segment_file

        files = expand_inputs(inputs)
        try:
            segmenter = Segmenter(model, flip=flip, spine_only=spine)
        except MorphoError as exc:
            fail(exc.cause, exc.path)
        failures = run_each(
            track(files, description="segmenting", console=console),
            lambda path: segment_file(segmenter, path, out),
        )
        console.print(f"{len(files) - len(failures)} of {len(files)} segmented into {out}")
        finish(failures, len(files))
