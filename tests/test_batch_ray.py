"""faceproof batch on Ray Data, for real: a local Ray instance started by the test
(``num_cpus=2``), an actor pool of two pipelines, shut down at the end. Skipped only when
ray is not installed (``pip install 'faceproof[ray]'``)."""

from __future__ import annotations

import os
import time

import pytest

from faceproof import PipelineConfig
from faceproof.batch import read_results, run

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")
pytest.importorskip("pyarrow")

from test_batch import lfw_pairs, write_csv  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    print(f"ray.init: {time.perf_counter() - t:.1f} s")
    yield ray
    ray.shutdown()


def test_ray_engine_actor_pool(local_ray, tmp_path, lfw, photos):
    pairs = lfw_pairs(lfw, 2, 2)
    rows = [[f"pair-{i}", a, b] for i, (a, b, _) in enumerate(pairs)]
    rows.append(["missing", str(photos / "nope.jpg"), pairs[0][1]])
    manifest = write_csv(tmp_path / "pairs.csv", ["id", "path1", "path2"], rows)
    config = PipelineConfig(attributes=())
    summary = run(manifest, tmp_path / "out", "verify", config, engine="ray", workers=2, chunk=1, progress="none")
    assert summary.engine == "ray" and summary.complete
    assert summary.rows_this_run == 5 and summary.duplicated_rows == 0
    assert summary.errors == {"image_not_found": 1}
    results = read_results(tmp_path / "out")
    assert [r["row"] for r in results] == list(range(5))
    for r, (_, _, same) in zip(results, pairs, strict=False):
        assert r["verdict"] == ("same_person" if same else "not_same_person")
    # the rows ran in Ray actors (other processes), each holding its own pipeline
    workers = {r["worker"] for r in results}
    assert all(not w.endswith(f":{os.getpid()}") for w in workers)
    assert 1 <= len(summary.worker_peak_rss_mb) <= 2
    # a finished job started again skips everything, on Ray too
    again = run(manifest, tmp_path / "out", "verify", config, engine="ray", workers=2, progress="none")
    assert again.rows_this_run == 0 and again.rows_skipped == 5
