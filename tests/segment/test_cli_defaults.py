"""What `morpho segment` and `evaluate` ask of the Segmenter when given no option, against
the Segmenter's own default (the measure path's)."""

import inspect

import pytest
from typer.testing import CliRunner

from morpho.cli import app
from morpho.segment import infer


class Asked(Exception):
    """Raised by the stand-in Segmenter with the options it was given."""


@pytest.fixture
def asked(monkeypatch):
    def fake(*args, **kwargs):
        raise Asked(kwargs)

    monkeypatch.setattr(infer, "Segmenter", fake)


def options(result) -> dict:
    assert isinstance(result.exception, Asked), result.output
    return result.exception.args[0]


def test_segment_and_evaluate_clean_the_mask_by_default(asked, tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    runner = CliRunner()
    got = options(runner.invoke(app, ["segment", str(image), "--out", str(tmp_path / "o")]))
    assert got["spine_only"] is True and got["flip"] is None
    assert options(runner.invoke(app, ["segment", str(image), "--out", str(tmp_path / "o"),
                                       "--all-objects"]))["spine_only"] is False
    dataset = tmp_path / "d.json"
    dataset.write_text('{"name": "d", "format_version": 1, "items": [{"id": "a", '
                       '"image": "a.png", "mask": "a.png", "split": "test"}]}')
    got = options(runner.invoke(app, ["evaluate", str(tmp_path / "m.onnx"), str(dataset)]))
    assert got["spine_only"] is True and got["flip"] is None


def test_the_segmenter_defaults_are_the_clis():
    """``Segmenter()`` masks are what ``morpho segment`` writes by default (spine only); the
    measure path asks for the raw mask itself (its labelling notes what it drops)."""
    defaults = inspect.signature(infer.Segmenter.__init__).parameters
    assert defaults["spine_only"].default is True
    assert defaults["flip"].default is None  # as the CLI: the model config's "tta"
