"""The core output: its target, a body network widened to two outputs, training, export
and the Segmenter's maps."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from morpho.preprocess import PreprocessConfig  # noqa: E402
from morpho.segment.losses import core_mask, with_core_channel  # noqa: E402
from morpho.segment.nets import ModelConfig, create_model  # noqa: E402
from morpho.segment.train import TrainConfig, load_matching, train  # noqa: E402

TINY = dict(encoder="resnet18", encoder_depth=3, decoder_channels=(16, 8, 8), pretrained=False)


def test_each_body_has_one_core_and_neighbours_cores_are_apart():
    mask = np.zeros((60, 40), bool)
    mask[5:25, 5:35] = mask[26:50, 5:35] = True  # two bodies one pixel apart
    cores = core_mask(mask)
    rows = np.flatnonzero(cores[:, 20])
    upper, lower = rows[rows < 25], rows[rows > 25]
    assert upper.size and lower.size and (cores <= mask).all()
    assert lower.min() - upper.max() >= 0.4 * 20  # apart by 2 x 0.4 of a half-height or more
    assert abs((upper.min() + upper.max()) / 2 - 14.5) <= 1  # centred in its body
    stacked = with_core_channel(mask[None].astype(np.uint8))
    assert stacked.shape == (1, 2, 60, 40) and (stacked[0, 1] == cores).all()


def test_a_body_network_starts_both_outputs_of_a_body_and_core_network():
    one = create_model(ModelConfig(**TINY)).eval()
    two = create_model(ModelConfig(**TINY, classes=2)).eval()
    load_matching(two, one.state_dict())
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        a, b = one(x), two(x)
    assert b.shape == (1, 2, 32, 32)
    assert torch.equal(b[:, :1], a) and torch.equal(b[:, 1:], a)


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("core_run")
    torch.set_num_threads(1)
    config = TrainConfig(
        datasets=[tiny_dataset], out=str(out), model=ModelConfig(**TINY, classes=2),
        epochs=4, batch_size=5, lr=3e-3, preprocess=PreprocessConfig(64, 64, aspect="pad"),
        pack_dir=str(out / "packed"), gap_weight=5.0, core_weight=1.0,
    )
    return train(config)


def test_export_and_segmenter_give_body_and_core_maps(trained, tmp_path):
    from morpho.segment.export import export_onnx
    from morpho.segment.infer import Segmenter

    segmenter = Segmenter(export_onnx(trained, tmp_path / "core.onnx"), threads=1, flip=True)
    pixels = np.random.default_rng(1).random((150, 90), dtype=np.float32)
    (maps,) = segmenter.output_maps([pixels])
    assert maps.shape == (150, 90, 2)
    mask, prob, cores = segmenter.segment_with_cores(pixels)
    assert np.array_equal(prob, maps[..., 0]) and np.array_equal(cores, maps[..., 1])
    assert np.array_equal(mask, segmenter.predict(pixels))
    (body,) = segmenter.probability_maps([pixels])
    assert np.array_equal(body, prob)


def test_segment_writes_the_core_probability_beside_the_mask(trained, tmp_path):
    import cv2
    from typer.testing import CliRunner

    from morpho.cli import app
    from morpho.pipeline import read_probability
    from morpho.segment.export import export_onnx

    model = export_onnx(trained, tmp_path / "core.onnx")
    film = (np.random.default_rng(2).random((120, 80)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "film.png"), film)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["segment", str(tmp_path / "film.png"), "--out", str(out),
                                      "--model", str(model)])  # fmt: skip
    assert result.exit_code == 0, result.output
    cores = read_probability(out / "film_mask.png", "core")
    assert cores is not None and cores.shape == (120, 80)
    assert read_probability(out / "film_mask.png").shape == (120, 80)
