"""Prefect operations against a real `prefect server start` on loopback.

A deployment run is created through the API the way the UI does, waits at gate 1 with its
artifacts, is resumed through the API (once with a refused edit), and suspends/resumes at every
gate without redoing approved work or republishing what it showed; prefect.yaml deploys with the
batch schedule; batches complete despite a bad brief.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml
from fakes.processes import start_prefect_server, stop, wait_for
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL, temporary_settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.timeout(900)
SERVE = "from flows.challenge import challenge_flow; challenge_flow.serve(name='ui-test', limit=2)"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Prefect server (SQLite) on a free loopback port, with its own home."""
    home = tmp_path_factory.mktemp("prefect-server-home")
    process, url, env, log = start_prefect_server(home, ui=False)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            assert process.poll() is None, (home / "server.log").read_text()[-2000:]
            return False

    wait_for(healthy, 180, "the Prefect server")
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield {"url": url, "env": env, "home": home}
    stop(process)
    log.close()


def _state(run_id: uuid.UUID):
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def _artifact_list(run_id: uuid.UUID) -> list[str]:
    """The keys of the run's artifacts, one entry per artifact (a republished key shows twice)."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return [a.key for a in found if a.key]


def _artifact_keys(run_id: uuid.UUID) -> set[str]:
    return set(_artifact_list(run_id))


def _answer(run_id: uuid.UUID, **run_input) -> None:
    """Resume the run once its gate form is stored (it is stored a moment after the run shows as paused)."""
    from flows.gates import wait_for_gate_form

    with get_client(sync_client=True) as client:
        wait_for_gate_form(client, run_id, timeout=60)
    resume_flow_run(run_id, run_input={"decision": "approve", "feedback": "", "spec_yaml": "", **run_input})


def _waiting_at(run_id: uuid.UUID, key: str):
    def check():
        state = _state(run_id)
        assert state is None or not state.is_final(), f"run ended early: {state.name}: {state.message}"
        details = state.state_details if state else None
        return state if state and state.is_paused() and details and details.pause_key == key else None

    return check


def test_deployment_run_from_the_api_waits_at_gates_and_resumes_without_redoing_work(server, tmp_path: Path) -> None:
    # Setup: serve the challenge flow as a deployment, the way a worker would run it
    env = server["env"] | {"PREFECT_RUNNER_POLL_FREQUENCY": "1", "PYTHONPATH": str(ROOT)}
    serve_log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from flows.challenge import challenge_flow; challenge_flow.serve(name='ui-test', limit=2)",
        ],
        cwd=ROOT,
        env=env,
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with get_client(sync_client=True) as client:
            deployment = wait_for(lambda: _deployment(client, "challenge/ui-test"), 120, "the served deployment")
            # Run: create a run from the deployment with parameters, as the UI's "Custom run" does
            run = client.create_flow_run_from_deployment(
                deployment.id,
                parameters={
                    "brief": "An online store is losing customers in the West",
                    "rows": 300,
                    "seed": 9,
                    "approval": "manual",
                    "output_dir": str(tmp_path / "out"),
                },
            )
        state = wait_for(_waiting_at(run.id, "gate-1-attempt-0"), 240, "gate 1")
        assert state.name == "Suspended", "a deployment run must free its worker while it waits"
        assert {"gate-1-attempt-0-problem", "gate-1-attempt-0-spec"} <= _artifact_keys(run.id)
        # a broken edit: the run starts again, and gate 1 reopens on the same design with the reason
        _answer(run.id, spec_yaml="challenge: {id: x}\ntables: []\n")
        for key in ("gate-1-attempt-1", "gate-2-attempt-0", "gate-3-attempt-0"):
            wait_for(_waiting_at(run.id, key), 240, key)
            _answer(run.id)
        final = wait_for(lambda: (s := _state(run.id)) and s.is_final() and s, 300, "the end of the run")
        # Assert
        assert final.is_completed(), f"{final.name}: {final.message}\n{(tmp_path / 'serve.log').read_text()[-3000:]}"
        packages = list((tmp_path / "out" / "packages").rglob("codebasics_data_challenge_*[0-9].zip"))
        assert len(packages) == 1
        with zipfile.ZipFile(packages[0]) as zf:
            assert "challenge.yaml" in zf.namelist()
        keys = _artifact_list(run.id)
        assert "package-link" in keys and "gate-1-attempt-1-edit-refused" in keys
        # every start of the run replays the gates answered before; none of them is published again
        assert len(keys) == len(set(keys)), sorted(keys)
        assert sorted(k for k in keys if k.endswith("-spec")) == [
            "gate-1-attempt-0-spec",
            "gate-1-attempt-1-spec",
            "gate-2-attempt-0-spec",
            "gate-3-attempt-0-spec",
        ]
        with get_client(sync_client=True) as client:
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        designs = [t.state.name for t in task_runs if t.name.startswith("design-challenge")]
        # the flow ran five times (start + four resumes); the design was computed once (the refused edit
        # regenerated nothing), then cached
        assert designs.count("Completed") == 1 and designs.count("Cached") >= 4, designs
        assert not [t for t in task_runs if t.name.startswith("design-challenge-attempt-1")]
    finally:
        stop(runner)
        serve_log.close()


def _deployment(client, name: str):
    try:
        return client.read_deployment_by_name(name)
    except Exception:  # noqa: BLE001 - not there yet
        return None


def test_prefect_yaml_deploys_with_the_batch_schedule(server) -> None:
    env = server["env"] | {"DATAFACTORY_PROJECT_DIR": str(ROOT)}
    subprocess.run(
        [str(BIN / "prefect"), "work-pool", "create", "datafactory-pool", "--type", "process"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with get_client(sync_client=True) as client:
        batch = client.read_deployment_by_name("challenge-batch/batch")
        challenge = client.read_deployment_by_name("challenge/challenge")
    crons = [s.schedule.cron for s in batch.schedules]
    assert crons == ["0 6 * * 1"]
    assert batch.work_pool_name == challenge.work_pool_name == "datafactory-pool"
    assert "approval" in challenge.parameter_openapi_schema["properties"]


def _batch_file(tmp_path: Path, challenges: list[dict]) -> Path:
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump({"concurrency": 2, "challenges": challenges}))
    return path


def test_batch_of_three_completes_with_its_summary_and_survives_a_bad_brief(server, tmp_path: Path) -> None:
    from flows.batch import batch_flow

    good = [
        {"brief": "An online store wants to understand its sales", "rows": 300, "seed": 1},
        {"domain": "hospitality", "rows": 300, "seed": 2},
        {"brief": "A SaaS company wants to reduce churn", "rows": 300, "seed": 3},
    ]
    rows = batch_flow(batch_file=str(_batch_file(tmp_path, good)), output_dir=str(tmp_path / "out"))
    assert [r["status"] for r in rows] == ["Completed"] * 3
    assert all(Path(r["package"].removeprefix("file://")).is_file() for r in rows)

    bad = [good[0], {"brief": "   ", "rows": 300, "seed": 5}, good[2]]
    rows = batch_flow(batch_file=str(_batch_file(tmp_path, bad)), output_dir=str(tmp_path / "out2"))
    assert [r["status"] for r in rows].count("Completed") == 2
    assert "brief is empty" in rows[1]["error"]
    with get_client(sync_client=True) as client:
        summaries = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["batch-summary"])))
    assert len(summaries) >= 2
