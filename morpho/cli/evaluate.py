"""`morpho evaluate MODEL DATASET.json --split test`: measure a model against the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from morpho.cli.common import FlipOption, SpineOnlyOption, console, fail
from morpho.errors import MorphoError


def register(app: typer.Typer) -> None:
    @app.command()
    def evaluate(
        model: Annotated[Path, typer.Argument(help="ONNX model (.json beside it).")],
        dataset: Annotated[Path, typer.Argument(help="Dataset JSON.")],
        split: Annotated[str, typer.Option(help="train | val | test.")] = "test",
        out: Annotated[Path, typer.Option(help="Output folder.")] = Path("out/evaluate"),
        overlays: Annotated[bool, typer.Option(help="Write overlay PNGs.")] = True,
        flip: FlipOption = None,
        spine: SpineOnlyOption = True,
    ) -> None:
        """Score a model against a dataset's masks.

        Dice/IoU with bootstrap CIs, body detection, contour distances; CSV + markdown."""
        from morpho.datasets.contract import load_dataset
        from morpho.segment.evaluate import evaluate as run_evaluation
        from morpho.segment.evaluate import markdown
        from morpho.segment.infer import Segmenter

        try:
            data = load_dataset(dataset)
            if not data.split(split):
                fail(f"no items in split {split!r}", dataset)
            segmenter = Segmenter(model, flip=flip, spine_only=spine)
            result = run_evaluation(segmenter, data, split, out, overlays)
        except MorphoError as exc:
            fail(exc.cause, exc.path)
        console.print(markdown(result.summary, str(model), data.name, split))
        console.print(f"details in {out}")
