"""Export trained weights to ONNX (torch needed here only)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

from morpho.atomic import atomic_write, write_text
from morpho.segment.nets import create_model


def load_torch_model(model_path: str | Path) -> tuple[torch.nn.Module, dict]:
    """A model from ``<stem>.safetensors`` + ``<stem>.json``, in eval mode."""
    model_path = Path(model_path)
    config = json.loads(model_path.with_suffix(".json").read_text())
    model = create_model(config["model"])
    model.load_state_dict(load_file(str(model_path.with_suffix(".safetensors"))))
    return model.eval(), config


def export_onnx(
    model_path: str | Path, out: str | Path, opset: int = 17,
    threshold: float | None = None, tta: str | None = None,
) -> Path:
    """Write ``out`` (.onnx) with a dynamic batch and size, plus ``out``'s JSON config.

    The config is copied beside the ONNX file, with a ``version`` (a hash of the weights)
    unless it already names one, and the ``threshold`` and test-time augmentation (``tta``:
    ``"flip"`` or ``"none"``) where given; the safetensors weights are copied too.
    """
    model_path, out = Path(model_path), Path(out).with_suffix(".onnx")
    model, config = load_torch_model(model_path)
    pre = config["preprocess"]
    example = torch.zeros(1, 1, pre["height"], pre["width"])
    out.parent.mkdir(parents=True, exist_ok=True)
    axes = {0: "batch", 2: "height", 3: "width"}
    atomic_write(out, lambda tmp: torch.onnx.export(
        model, (example,), str(tmp), input_names=["image"], output_names=["logits"],
        opset_version=opset, dynamo=False, dynamic_axes={"image": axes, "logits": axes},
    ))
    weights = model_path.with_suffix(".safetensors")
    if weights.resolve() != out.with_suffix(".safetensors").resolve():
        atomic_write(out.with_suffix(".safetensors"), lambda tmp: shutil.copyfile(weights, tmp))
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    config.setdefault("version", f"{out.stem}-{digest}")
    config["onnx_opset"] = opset
    if threshold is not None:
        config["threshold"] = threshold
    if tta is not None:
        config["tta"] = tta
    write_text(out.with_suffix(".json"), json.dumps(config, indent=1))
    return out
