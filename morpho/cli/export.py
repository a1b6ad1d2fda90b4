"""`morpho export MODEL --onnx`: trained weights (safetensors + JSON) -> ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from morpho.cli.common import console, fail


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        model: Annotated[Path, typer.Argument(help="Weights (.safetensors, .json beside).")],
        onnx: Annotated[bool, typer.Option("--onnx", help="Write ONNX (the only format).")] = True,
        out: Annotated[Path | None, typer.Option(help="ONNX path (default: beside MODEL).")] = None,
        opset: Annotated[int, typer.Option(help="ONNX opset (>= 17).")] = 17,
        threshold: Annotated[
            float | None, typer.Option(help="Mask threshold to record (default: as trained, 0.5).")
        ] = None,
        flip: Annotated[
            bool | None,
            typer.Option("--flip/--no-flip", help="Record flip test-time augmentation as the "
                         "model's default."),
        ] = None,
    ) -> None:
        """Export trained weights to ONNX for torch-free inference.

        A dynamic batch and size; the config and weights are copied beside it."""
        from morpho.segment.export import export_onnx

        if not onnx:
            fail("only --onnx export exists")
        for needed in (model.with_suffix(".safetensors"), model.with_suffix(".json")):
            if not needed.exists():
                fail("missing file", needed)
        if threshold is not None and not 0 < threshold < 1:
            fail(f"threshold {threshold} is not between 0 and 1")
        tta = None if flip is None else "flip" if flip else "none"
        path = export_onnx(model, out or model.with_suffix(".onnx"), opset, threshold, tta)
        console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
