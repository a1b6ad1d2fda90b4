"""Static int8 quantisation of an ONNX segmenter (onnxruntime QDQ), calibrated on images."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from morpho.atomic import atomic_write


class ArrayReader(CalibrationDataReader):
    """Feeds network-size float32 arrays (H, W) one at a time."""

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.arrays = iter(arrays)

    def get_next(self) -> dict | None:
        array = next(self.arrays, None)
        return None if array is None else {"image": array[None, None].astype(np.float32)}


def padding_nodes(model: onnx.ModelProto) -> list[str]:
    """Pad nodes and every node that computes their pad amounts (TF 'same' padding, as in
    EfficientNet-Lite, works the pads out from the input's shape): quantising that shape
    arithmetic shifts the padding and wrecks the output, so it stays float."""
    producer = {out: node for node in model.graph.node for out in node.output}
    names, stack = set(), []
    for node in model.graph.node:
        if node.op_type == "Pad":
            names.add(node.name)
            stack.extend(node.input[1:2])
    while stack:
        node = producer.get(stack.pop())
        if node is not None and node.name not in names:
            names.add(node.name)
            if node.op_type != "Shape":  # the shape's tensor itself is not pad arithmetic
                stack.extend(node.input)
    return sorted(names)


def _float_nodes(model: onnx.ModelProto, prefixes: Sequence[str]) -> list[str]:
    kept = [n.name for n in model.graph.node if n.name.startswith(tuple(prefixes))]
    return sorted({*padding_nodes(model), *kept})


def quantize_int8(
    onnx_path: str | Path, out: str | Path, calibration: Sequence[np.ndarray],
    keep_float: Sequence[str] = (),
):
    """Write an int8 (uint8 activations, int8 per-channel weights) copy of ``onnx_path``;
    padding arithmetic stays float (``padding_nodes``), and so do the nodes whose names
    start with one of ``keep_float`` (e.g. the last decoder blocks, which place outlines).

    The JSON config beside the input is copied beside ``out``.
    """
    onnx_path, out = Path(onnx_path).resolve(), Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        with contextlib.chdir(tmp):  # a failed shape inference leaves files in the cwd
            try:
                quant_pre_process(str(onnx_path), str(pre))
            except Exception:  # symbolic shapes fail on TF-'same' pads (EfficientNet-Lite)
                quant_pre_process(str(onnx_path), str(pre), skip_symbolic_shape=True)
        atomic_write(out, lambda dst: quantize_static(
            str(pre), str(dst), ArrayReader(calibration), activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8, per_channel=True,
            nodes_to_exclude=_float_nodes(onnx.load(str(pre)), keep_float),
        ))
    config = onnx_path.with_suffix(".json")
    if config.exists():
        atomic_write(out.with_suffix(".json"), lambda dst: shutil.copyfile(config, dst))
    return out
