"""The Ray engine gives the same tables as the local engine (one local Ray CPU)."""

from __future__ import annotations

import batch_fakes
import pytest
from batch_fakes import FakeWorker, make_images
from pandas.testing import assert_frame_equal
from test_batch_runner import read_outputs

from morpho.batch import items_from_input, run_batch

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.cloudpickle.register_pickle_by_value(batch_fakes)  # Ray workers cannot import tests/
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_equals_local(tmp_path, local_ray):
    make_images(tmp_path / "in", 5)
    (tmp_path / "in" / "broken.png").write_bytes(b"broken")
    items = items_from_input(tmp_path / "in")
    run_batch(items, tmp_path / "local", FakeWorker, workers=1, progress=False)
    run_batch(items, tmp_path / "ray", FakeWorker, engine="ray", workers=1, chunk_size=2,
              progress=False)  # fmt: skip
    for got, want in zip(read_outputs(tmp_path / "ray"), read_outputs(tmp_path / "local"),
                         strict=True):  # fmt: skip
        assert_frame_equal(got, want)
