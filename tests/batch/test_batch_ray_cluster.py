"""The Ray engine on a real multi-node setup: a cluster of two Ray nodes (a head and a worker
node, one CPU each, started here by ``ray.cluster_utils.Cluster``), reached by its address as
`morpho batch --engine ray --address HOST:PORT` does. Same tables as the local engine, and
the same resume store semantics."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import batch_fakes
import pytest
from batch_fakes import FakeWorker, make_images
from pandas.testing import assert_frame_equal
from test_batch_runner import read_outputs

from morpho.batch import items_from_input, run_batch

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")


class NodeNotingWorker(FakeWorker):
    """The fake worker, which also leaves a file named after the Ray node it was built on."""

    def __init__(self, folder: str):
        super().__init__()
        (Path(folder) / ray.get_runtime_context().get_node_id()).touch()


@pytest.fixture(scope="module")
def two_nodes():
    if ray.is_initialized():  # another module's local instance
        ray.shutdown()
    ray.cloudpickle.register_pickle_by_value(batch_fakes)  # workers cannot import tests/
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = cluster_utils.Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    context = ray.data.DataContext.get_current()
    waited, context.wait_for_min_actors_s = context.wait_for_min_actors_s, 60
    yield cluster  # (the pool is whole before work flows, so both nodes get an actor)
    context.wait_for_min_actors_s = waited
    cluster.shutdown()


def test_two_node_cluster_equals_local_and_resumes(tmp_path, two_nodes):
    images = make_images(tmp_path / "in", 8)  # (a failed file: test_batch_ray.py)
    items = items_from_input(tmp_path / "in")
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    factory = functools.partial(NodeNotingWorker, str(nodes))

    def on_ray():
        return run_batch(items, tmp_path / "ray", factory, engine="ray", workers=2,
                         chunk_size=1, address=two_nodes.address, progress=False)  # fmt: skip

    def local():
        return run_batch(items, tmp_path / "local", FakeWorker, workers=1, progress=False)

    first = on_ray()
    assert (first.total, first.processed_now, first.failed) == (8, 8, 0)
    assert len(list(nodes.iterdir())) == 2  # one actor on each node (one CPU each)
    assert not ray.is_initialized()  # the engine left the cluster, which runs on
    local()
    for got, want in zip(read_outputs(tmp_path / "ray"), read_outputs(tmp_path / "local"),
                         strict=True):  # fmt: skip
        assert_frame_equal(got, want)

    assert on_ray().processed_now == 0  # resumed: nothing new

    time.sleep(0.01)
    make_images(tmp_path / "changed", 1, seed=99)[0].replace(images[3])  # a changed file
    items = items_from_input(tmp_path / "in")
    assert on_ray().processed_now == 1  # the changed file only
    assert local().processed_now == 1
    for got, want in zip(read_outputs(tmp_path / "ray"), read_outputs(tmp_path / "local"),
                         strict=True):  # fmt: skip
        assert_frame_equal(got, want)
