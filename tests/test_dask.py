"""Scale-out: chunks computed on a local Dask cluster give the same files as the default runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from tasks.domains import load_blueprint
from tasks.engine.output import generate_to_files
from tasks.scaleout import dask_mapper

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)
def test_local_dask_cluster_yields_the_same_files_as_the_default_runner(tmp_path: Path) -> None:
    # Setup: several chunks, so the cluster really gets several jobs
    spec = load_blueprint(ROOT / "domains" / "retail_ecommerce.yaml").spec.model_copy(update={"scale": 40_000})
    # Run
    default = generate_to_files(spec, tmp_path / "default", chunk_rows=16_384)
    with prefect_test_harness(server_startup_timeout=180):
        on_dask = generate_to_files(spec, tmp_path / "dask", chunk_rows=16_384, map_fn=dask_mapper(n_workers=2))
    # Assert
    assert default.row_counts == on_dask.row_counts
    for table, path in default.csv.items():
        assert path.read_bytes() == on_dask.csv[table].read_bytes(), table
