"""Issue 18, point 3: a batch at concurrency 3 and cached re-runs complete without an error.

Import races between threads (a warm-up thread importing matplotlib.pyplot while the charts module
set its backend; batch items first-importing the report modules at once) lost 2-3 of 6 challenges
of a batch at concurrency 3 and 4 of 8 cached re-runs. Here three items of one small spec run at
once in Prefect's test harness (the batch imports the phase modules in the flow's thread before its
items start), then the same spec runs again ten times with its phases taken from the cache.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml
from prefect.testing.utilities import prefect_test_harness

from flows.batch import batch_flow
from flows.challenge import challenge_flow

BRIEF = "Our online store is losing customers in the West and wants to understand its sales"
ITEM = {"brief": BRIEF, "rows": 300, "seed": 23}  # one small spec: the re-runs reuse its cached phases
RERUNS = 10


@pytest.fixture(scope="module", autouse=True)
def harness():
    with prefect_test_harness(server_startup_timeout=180):
        yield


def test_batch_at_concurrency_three_then_cached_reruns_complete(tmp_path: Path) -> None:
    batch = tmp_path / "batch.yaml"
    batch.write_text(yaml.safe_dump({"concurrency": 3, "challenges": [ITEM] * 3}))
    out = tmp_path / "out"
    rows = batch_flow(batch_file=str(batch), output_dir=str(out))
    assert [r["status"] for r in rows] == ["Completed"] * 3, [r.get("error") for r in rows]
    packages = [Path(r["package"].removeprefix("file://")) for r in rows]
    assert all(p.is_file() and zipfile.is_zipfile(p) for p in packages)

    for attempt in range(RERUNS):
        state = challenge_flow(**ITEM, approval="auto", output_dir=str(out), return_state=True)
        assert state.is_completed(), f"cached re-run {attempt + 1} of {RERUNS}: {state.message}"
        assert zipfile.is_zipfile(state.result().package)
