"""A run whose process was killed (kill -9, the OOM killer) is shown as Crashed, not Running forever (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Running
from prefect.testing.utilities import prefect_test_harness

from flows.liveness import crash_if_orphaned, record_runner


@flow
def _noop() -> None:
    pass


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_an_active_run_whose_process_is_gone_is_marked_crashed_and_a_live_one_is_left() -> None:
    with prefect_test_harness(server_startup_timeout=180), get_client(sync_client=True) as client:
        dead = client.create_flow_run(_noop, state=Running())
        alive = client.create_flow_run(_noop, state=Running())
        record_runner(alive.id)  # this test's own process: alive
        path = record_runner(dead.id)
        path.write_text(path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {_dead_pid()}'))

        assert crash_if_orphaned(client, client.read_flow_run(dead.id))
        assert not crash_if_orphaned(client, client.read_flow_run(alive.id))
        crashed = client.read_flow_run(dead.id).state
        assert crashed.name == "Crashed" and "ended without reporting" in crashed.message
        assert client.read_flow_run(alive.id).state.name == "Running"
        assert not crash_if_orphaned(client, client.read_flow_run(dead.id))  # already ended: nothing to do
