"""Batch fan-out over Dask: parts in order, the same numbers as a local call, clear errors."""

from __future__ import annotations

import functools
import pickle

import cloudpickle
import jax
import numpy as np
import pytest
from distributed import LocalCluster

from snnviz.core.navigation import RateCX
from snnviz.distributed import BatchFanOut, concatenate, split_batch
from snnviz.models.bee_evolution import POOR_START, fly_candidates


def _row_stats(batch: np.ndarray) -> dict[str, np.ndarray]:
    return {"sum": batch.sum(axis=1), "rows": batch * 2}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster


def test_split_and_concatenate_are_inverse():
    batch = np.arange(14).reshape(7, 2)
    parts = split_batch(batch, 3)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert len(split_batch(batch[:2], 5)) == 2  # never an empty part
    np.testing.assert_array_equal(concatenate([_row_stats(p) for p in parts])["rows"], batch * 2)


def test_local_call_without_an_address():
    fan_out = BatchFanOut("")
    out = fan_out(_row_stats, np.ones((3, 2)))
    np.testing.assert_array_equal(out["sum"], [2.0, 2.0, 2.0])
    assert fan_out.workers_used == 0


def test_population_on_a_dask_cluster_matches_the_local_evaluation(cluster):
    candidates = np.stack([np.asarray(POOR_START) + 0.1 * i for i in range(4)]).astype(np.float32)
    fly = functools.partial(fly_candidates, RateCX(), jax.random.key(3), 2, 30)
    pickle.loads(cloudpickle.dumps(fly))  # a Dask task must survive the trip to a worker
    local = fly(candidates)
    fan_out = BatchFanOut(cluster.scheduler_address)
    try:
        fitness, homed = fan_out(fly, candidates)
        assert fan_out.workers_used == 2
    finally:
        fan_out.close()
    np.testing.assert_allclose(fitness, local[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(homed, local[1])


def test_unreachable_scheduler_names_the_address():
    fan_out = BatchFanOut("tcp://127.0.0.1:9", timeout_s=0.5)
    with pytest.raises(ValueError, match=r"127\.0\.0\.1:9"):
        fan_out(_row_stats, np.ones((2, 2)))
