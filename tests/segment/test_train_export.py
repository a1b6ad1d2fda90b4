"""A few training steps on tiny images; ONNX export agrees with torch; Segmenter and CLI."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from morpho.cli import app  # noqa: E402
from morpho.preprocess import PreprocessConfig  # noqa: E402
from morpho.segment.nets import ModelConfig  # noqa: E402
from morpho.segment.train import TrainConfig, crop_to_content, train  # noqa: E402

TINY_MODEL = ModelConfig("resnet18", encoder_depth=3, decoder_channels=(16, 8, 8))


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    torch.set_num_threads(1)
    config = TrainConfig(
        datasets=[tiny_dataset], out=str(out), model=TINY_MODEL, epochs=5, batch_size=5,
        lr=3e-3, preprocess=PreprocessConfig(height=64, width=64, aspect="pad"),
        pack_dir=str(out / "packed"), gap_weight=5.0,
    )
    return train(config), out


def test_loss_goes_down(trained):
    _, out = trained
    rows = list(csv.DictReader((out / "log.csv").read_text().splitlines()))
    assert len(rows) == 5
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert (out / "best.safetensors").exists() and (out / "state.json").exists()


def test_resume_continues_the_run(trained, tiny_dataset):
    _, out = trained
    config = TrainConfig(**json.loads((out / "train.json").read_text()))
    config.preprocess = PreprocessConfig(**config.preprocess)
    config.model = ModelConfig.from_dict(config.model)
    config.epochs = 6
    train(config, resume=True)
    rows = list(csv.DictReader((out / "log.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))


def test_onnx_matches_torch(trained, tmp_path):
    from morpho.segment.export import export_onnx, load_torch_model
    from morpho.segment.infer import Segmenter

    best, _ = trained
    onnx_path = export_onnx(best, tmp_path / "tiny.onnx")
    model, _ = load_torch_model(best)
    x = np.random.default_rng(0).random((2, 1, 64, 96), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    segmenter = Segmenter(onnx_path, threads=1)
    (got,) = segmenter.session.run(None, {"image": x})
    assert np.abs(got - expected).max() < 1e-3
    pixels = np.random.default_rng(1).random((150, 90), dtype=np.float32)
    assert segmenter.predict(pixels).shape == (150, 90)
    assert segmenter.model_version.startswith("tiny-")


def test_flip_tta_averages_the_mirrored_prediction(trained, tmp_path):
    from scipy.special import expit

    from morpho.preprocess import prepare
    from morpho.segment.export import export_onnx
    from morpho.segment.infer import Segmenter

    best, _ = trained
    onnx_path = export_onnx(best, tmp_path / "tiny.onnx")
    plain, flip = Segmenter(onnx_path, threads=1), Segmenter(onnx_path, threads=1, flip=True)
    assert not plain.flip  # the model config asks for no TTA
    pixels = np.random.default_rng(2).random((120, 80), dtype=np.float32)
    prepared = prepare(pixels, plain.preprocess)
    x = prepared.array[None, None]
    (a,) = plain.session.run(None, {"image": x})
    (b,) = plain.session.run(None, {"image": np.ascontiguousarray(x[..., ::-1])})
    expected = 0.5 * (expit(a[0, 0]) + expit(b[0, 0, :, ::-1]))
    (got,) = flip.probabilities([prepared])
    assert np.abs(got - expected).max() < 1e-5
    assert flip.predict(pixels).shape == (120, 80)
    assert flip.model_version == plain.model_version + "+flip"


def test_cli_export_and_segment(trained, tmp_path, tiny_dataset):
    best, _ = trained
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(best), "--onnx", "--out", str(tmp_path / "m.onnx"),
                                 "--threshold", "0.4", "--flip"])
    assert result.exit_code == 0, result.output
    from morpho.segment.infer import Segmenter

    exported = Segmenter(tmp_path / "m.onnx", threads=1)
    assert exported.threshold == 0.4 and exported.flip
    image = tmp_path / "in" / "a.png"
    image.parent.mkdir()
    image.write_bytes(Path(tiny_dataset).with_name("img0.png").read_bytes())
    (tmp_path / "in" / "broken.png").write_bytes(b"not an image")
    result = runner.invoke(
        app, ["segment", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
              "--model", str(tmp_path / "m.onnx")],
    )
    assert result.exit_code == 1
    assert "broken.png" in result.output and "Traceback" not in result.output
    mask = (tmp_path / "out" / "a_mask.png")
    assert mask.exists() and (tmp_path / "out" / "a_overlay.png").exists()
    import cv2

    written = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
    assert written.shape == (96, 64) and set(np.unique(written)) <= {0, 255}


def test_cli_evaluate_writes_tables_and_summary(trained, tmp_path, tiny_dataset):
    best, _ = trained
    runner = CliRunner()
    model = str(tmp_path / "m.onnx")
    assert runner.invoke(app, ["export", str(best), "--out", model]).exit_code == 0
    out = tmp_path / "eval"
    args = ["evaluate", model, tiny_dataset, "--split", "val", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    import pandas as pd

    images = pd.read_csv(out / "images.csv")
    assert len(images) == 2 and images["dice"].between(0, 1).all()
    bodies = pd.read_csv(out / "bodies.csv")
    assert len(bodies) == 2 * 5  # five boxes per tiny image
    levels = pd.read_csv(out / "levels.csv")
    assert len(levels) == 5 and (levels["bodies"] == 2).all()
    assert "## By level" in (out / "summary.md").read_text()
    assert "mean Dice" in (out / "summary.md").read_text()
    assert len(list((out / "overlays").glob("*.png"))) == 2


def test_a_batch_of_narrow_canvases_drops_the_shared_padding():
    x = np.zeros((2, 96, 128), np.uint8)
    x[0, 10:90, 40:70] = 1  # packed centred on the widest canvas of its dataset
    x[1, 0:96, 50:60] = 1
    y = x.copy()
    cx, cy = crop_to_content(x, y)
    assert cx.shape == (2, 96, 32) and cy.shape == cx.shape
    assert cx.sum() == x.sum() and cy.sum() == y.sum()
    full = np.ones((1, 96, 128), np.uint8)
    assert crop_to_content(full, full)[0].shape == (1, 96, 128)


def test_init_from_a_narrower_decoder_keeps_the_trained_encoder():
    from morpho.segment.nets import create_model
    from morpho.segment.train import load_matching

    trained = create_model(TINY_MODEL)
    wider = create_model(ModelConfig("resnet18", encoder_depth=3, decoder_channels=(32, 16, 8)))
    count = load_matching(wider, trained.state_dict())
    encoder = [k for k in trained.state_dict() if k.startswith("encoder.")]
    assert len(encoder) <= count < len(wider.state_dict())
    for key in encoder:
        assert torch.equal(wider.state_dict()[key], trained.state_dict()[key])
    other = create_model(ModelConfig("tu-regnetx_002", encoder_depth=3, decoder_channels=(4, 4, 4)))
    with pytest.raises(ValueError, match="share no tensor"):
        load_matching(other, {k: v for k, v in trained.state_dict().items()
                              if k.startswith("encoder.")})


def test_a_dataset_without_validation_items_is_refused_in_one_line(tiny_dataset, tmp_path):
    """No split 'val': no best weights could ever be kept, so the run is refused up front."""
    body = json.loads(Path(tiny_dataset).read_text())
    for item in body["items"]:
        item["split"] = "train"
        for key in ("image", "mask"):
            item[key] = str(Path(tiny_dataset).parent / item[key])
    dataset = tmp_path / "all_train.json"
    dataset.write_text(json.dumps(body))
    result = CliRunner().invoke(app, ["train", str(dataset), "--out", str(tmp_path / "run"),
                                      "--epochs", "1", "--height", "64", "--width", "64"])
    assert result.exit_code == 1
    assert "no validation items" in result.output and "Traceback" not in result.output


def tiny_config(tiny_dataset, out, **kw) -> TrainConfig:
    """A few seconds' run on the tiny set (one thread)."""
    torch.set_num_threads(1)
    settings = dict(datasets=[tiny_dataset], out=str(out), model=TINY_MODEL, epochs=3,
                    batch_size=5, lr=3e-3, preprocess=PreprocessConfig(64, 64, aspect="pad"),
                    pack_dir=str(Path(out).parent / "packed"))
    return TrainConfig(**{**settings, **kw})


def log_rows(out: Path) -> list[dict]:
    return list(csv.DictReader((out / "log.csv").read_text().splitlines()))


def test_patience_stops_a_run_that_no_longer_improves(tiny_dataset, tmp_path, monkeypatch):
    """A flat validation loss: the first epoch is the best, then ``patience`` bad ones."""
    import morpho.segment.train as training

    monkeypatch.setattr(training, "validate", lambda *args: (1.0, 0.5))
    out = tmp_path / "run"
    best = train(tiny_config(tiny_dataset, out, epochs=10, patience=2))
    rows = log_rows(out)
    assert [r["best"] for r in rows] == ["1", "0", "0"]
    state = json.loads((out / "state.json").read_text())
    assert state["best_epoch"] == 1 and state["bad_epochs"] == 2 and state["epoch"] == 3
    assert best.exists() and json.loads((out / "best.json").read_text())["epoch"] == 1


def test_the_cosine_schedule_sets_each_epochs_learning_rate(tiny_dataset, tmp_path):
    from morpho.segment.train import cosine_lr

    out = tmp_path / "run"
    train(tiny_config(tiny_dataset, out, epochs=3, schedule="cosine"))
    assert [float(r["lr"]) for r in log_rows(out)] == pytest.approx(
        [cosine_lr(3e-3, e, 3) for e in (1, 2, 3)], rel=1e-2)  # the log keeps 3 digits


def test_a_spent_time_budget_ends_the_run_and_the_cosine_with_it(tiny_dataset, tmp_path):
    """After an epoch that took longer than the whole budget no other starts, and the
    cosine has reached its floor (the budget, not the epochs, set its pace)."""
    out = tmp_path / "run"
    best = train(tiny_config(tiny_dataset, out, epochs=50, schedule="cosine",
                             max_minutes=1e-4))  # fmt: skip
    rows = log_rows(out)
    assert len(rows) == 1 and best.exists()
    assert float(rows[0]["lr"]) == pytest.approx(0.02 * 3e-3, rel=1e-2)


def test_an_unknown_schedule_is_refused_before_anything_is_written(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="unknown schedule"):
        train(tiny_config(tiny_dataset, out, schedule="steps"))
    assert not list(out.iterdir())


def test_init_starts_from_the_given_weights(trained, tiny_dataset, tmp_path):
    """``--init``: the network starts from a run's best weights (here not moved: lr 0),
    not from a fresh draw, through the CLI as through the API."""
    from safetensors.torch import load_file

    best, _ = trained
    start = load_file(str(best))
    conv = "encoder.layer1.0.conv1.weight"
    out = tmp_path / "api"
    train(tiny_config(tiny_dataset, out, epochs=1, lr=0.0, init=str(best), seed=5))
    assert torch.equal(load_file(str(out / "last.safetensors"))[conv], start[conv])
    fresh = tmp_path / "fresh"
    train(tiny_config(tiny_dataset, fresh, epochs=1, lr=0.0, seed=5))
    assert not torch.equal(load_file(str(fresh / "last.safetensors"))[conv], start[conv])
    # the CLI's default network is wider (depth 5): the encoder's shared tensors still start
    cli_out = tmp_path / "cli"
    result = CliRunner().invoke(app, [
        "train", tiny_dataset, "--out", str(cli_out), "--epochs", "1", "--lr", "0",
        "--height", "64", "--width", "64", "--aspect", "pad", "--batch-size", "5",
        "--decoder", "16,8,8,8,8", "--init", str(best.with_suffix(".json")),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "best weights:" in result.output and (cli_out / "best.safetensors").exists()
    assert torch.equal(load_file(str(cli_out / "last.safetensors"))[conv], start[conv])


def test_a_bad_number_is_refused_in_one_line(tiny_dataset, tmp_path):
    result = CliRunner().invoke(app, ["train", tiny_dataset, "--out", str(tmp_path / "run"),
                                      "--decoder", "16,eight"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("error:") == 1


def test_a_run_that_never_kept_weights_says_so(tiny_dataset, tmp_path, monkeypatch):
    """A validation loss that is never finite keeps no best weights: the CLI says so in
    one line instead of printing a path that does not exist."""
    import morpho.segment.train as training

    monkeypatch.setattr(training, "validate", lambda *args: (float("nan"), 0.0))
    result = CliRunner().invoke(app, [
        "train", tiny_dataset, "--out", str(tmp_path / "run"), "--epochs", "1",
        "--height", "64", "--width", "64", "--encoder", "resnet18", "--decoder", "8,8,8,8,8",
        "--batch-size", "5",
    ])  # fmt: skip
    assert result.exit_code == 1 and "best weights:" not in result.output
    assert "no best weights" in result.output and "Traceback" not in result.output
