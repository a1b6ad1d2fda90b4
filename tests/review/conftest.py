"""A small batch run to review: the bundled sample and a synthetic phantom, default model."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import cv2
import pytest

from morpho.batch import items_from_input, run_batch
from morpho.batch.chain import ChainWorker
from morpho.synth.phantom import PhantomParams, render_phantom

SAMPLE = Path(__file__).parents[2] / "samples" / "sample_lateral.dcm"


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A finished batch run over two films (kept clean: tests copy it)."""
    root = tmp_path_factory.mktemp("review")
    films = root / "films"
    films.mkdir()
    shutil.copy(SAMPLE, films / "sample_lateral.dcm")
    phantom = render_phantom(PhantomParams(size=(768, 640), texture_seed=3)).image
    cv2.imwrite(str(films / "phantom.png"), phantom)
    summary = run_batch(items_from_input(films), root / "run", ChainWorker, workers=1,
                        progress=False)  # fmt: skip
    assert summary.ok == 2, summary.failures
    return root / "run"


@pytest.fixture()
def run(finished_run, tmp_path) -> Path:
    """A fresh copy of the finished run (its own corrections.csv)."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


@pytest.fixture()
def server(run):
    """The review server of ``run`` in a thread: (page address with its token, run)."""
    from morpho.review.server import make_server

    httpd, url = make_server(run, reader="test reader")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield url, run
    httpd.shutdown()
    httpd.server_close()
