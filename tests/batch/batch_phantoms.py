"""A lateral spine phantom (bright boxes, one wedged) and a threshold 'segmenter'."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from morpho.batch.chain import ChainWorker


def phantom(rows: int = 900, cols: int = 500, wedge_at: int = 5, seed: int = 0) -> np.ndarray:
    """float32 in [0, 1]: nine vertebral bodies down a gentle curve; body ``wedge_at`` wedged."""
    rng = np.random.default_rng(seed)
    image = np.full((rows, cols), 0.2, np.float32)
    top = rows * 0.09
    height, width = rows * 0.067, cols * 0.16
    for i in range(9):
        x0 = cols * 0.4 + cols * 0.04 * np.sin(i / 3)
        corners = np.array([[x0, top], [x0 + width, top], [x0 + width, top + height],
                            [x0, top + height]], np.float32)  # fmt: skip
        if i == wedge_at:
            corners[0, 1] += 0.35 * height  # anterior (left) upper corner down: grade 2
        cv2.fillPoly(image, [np.round(corners).astype(np.int32)], 0.85)
        top += height + rows * 0.02
    image += rng.normal(0, 0.02, image.shape).astype(np.float32)
    return np.clip(image, 0, 1)


class ThresholdSegmenter:
    """Stands in for the U-Net: bone is whatever is brighter than half."""

    model_version = "threshold-test"

    def __init__(self, model_path: str | None = None, threads: int | None = None):
        self.model_path = model_path

    threshold = 0.5

    def probability_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(pixels, np.float32) for pixels in images]

    def finish(self, mask: np.ndarray) -> np.ndarray:
        return mask

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        return self.finish(self.probability_maps([pixels])[0] > self.threshold)


#: The real chain with the threshold segmenter (picklable, for worker processes).
threshold_chain = functools.partial(ChainWorker, segmenter_factory=ThresholdSegmenter)


def write_threshold_onnx(folder: Path) -> Path:
    """A tiny ONNX 'model' (logit = 40 * (image - 0.6)) with its JSON, for the real Segmenter."""
    import json

    import onnx
    from onnx import TensorProto, helper

    shape = ["n", 1, "h", "w"]
    graph = helper.make_graph(
        [helper.make_node("Sub", ["image", "level"], ["centred"]),
         helper.make_node("Mul", ["centred", "gain"], ["logits"])],
        "threshold",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, shape)],
        [helper.make_tensor("level", TensorProto.FLOAT, [], [0.6]),
         helper.make_tensor("gain", TensorProto.FLOAT, [], [40.0])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "threshold.onnx")
    config = {"preprocess": {"height": 512, "width": 256}, "version": "onnx-threshold-test"}
    (folder / "threshold.json").write_text(json.dumps(config))
    return folder / "threshold.onnx"
