"""The challenge flow end to end in Prefect's test harness: auto, manual gates, rejection, bad input."""

from __future__ import annotations

import re
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run
from prefect.testing.utilities import prefect_test_harness

from flows.challenge import challenge_flow
from flows.events import forget, listen
from schemas.errors import ChecksFailed, InputError

BRIEF = "Our online store is losing customers in the West and wants to understand its sales"


@pytest.fixture(scope="module", autouse=True)
def harness():
    with prefect_test_harness(server_startup_timeout=180):
        yield


class RunInThread:
    """Start the flow in a thread (it blocks at gates) and learn its run id from the flow's events."""

    def __init__(self, **params) -> None:
        self.params = params
        self.run_id: str | None = None
        self.state = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_event(self, event: str, data: dict) -> None:
        if event == "run-started" and self.run_id is None:
            self.run_id = data["run_id"]
            self.started.set()

    def _run(self) -> None:
        listen(self._on_event)
        try:
            self.state = challenge_flow(**self.params, return_state=True)
        finally:
            forget(self._on_event)
            self.started.set()

    def __enter__(self) -> RunInThread:
        self.thread.start()
        assert self.started.wait(120), "the flow did not start"
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(timeout=300)

    def wait_for_gate(self, key: str, timeout: float = 120) -> None:
        """Wait until the run is paused at ``key`` (e.g. gate-1-attempt-0)."""
        deadline = time.monotonic() + timeout
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                state = client.read_flow_run(uuid.UUID(self.run_id)).state
                details = state.state_details if state else None
                if state and state.is_paused() and details and details.pause_key == key:
                    return
                assert self.thread.is_alive() or self.state is None, f"run ended early: {self.state}"
                time.sleep(0.5)
        raise AssertionError(f"run {self.run_id} never paused at {key}")

    def answer(self, **run_input) -> None:
        resume_flow_run(uuid.UUID(self.run_id), run_input={"feedback": "", "spec_yaml": None, **run_input})

    def finish(self, timeout: float = 300):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not finish"
        return self.state


def _artifact_keys(run_id: str) -> set[str]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(run_id)]))
        )
    return {a.key for a in found if a.key}


def test_auto_run_produces_the_package(tmp_path: Path) -> None:
    """Brief to ZIP with no person and no key: the quick path every newcomer takes first."""
    # Run
    result = challenge_flow(brief=BRIEF, rows=600, seed=11, approval="auto", output_dir=str(tmp_path))
    # Assert
    package = Path(result.package)
    assert result.status == "completed" and package.name == "codebasics_data_challenge_retail-ecommerce-11.zip"
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
        spec = yaml.safe_load(zf.read("challenge.yaml"))
        readme = zf.read("README.txt").decode()
    tables = [t["name"] for t in spec["tables"]]
    assert {f"{t}.csv" for t in tables} | {"data_dictionary.txt", "README.txt", "challenge.yaml"} <= names
    assert all(q["text"] and q["sql"] for q in spec["questions"])
    assert all(t["primary_key"] and all(c["name"] and c["type"] for c in t["columns"]) for t in spec["tables"])
    assert "customers" in readme
    assert not [n for n in names if n.startswith("/") or ".." in n]


def test_auto_run_stops_at_an_unplanned_defect_and_points_to_the_data_docs(tmp_path: Path, monkeypatch) -> None:
    """No package is published from data with a defect; the GX docs (rendered in a forked process) are kept."""
    import tasks.phases as phases

    shipped = phases.shipped_tables

    def with_a_duplicate_key(spec, files):
        tables = shipped(spec, files)
        customers = tables["customers"]
        customers.loc[1, "customer_id"] = customers.loc[0, "customer_id"]
        return tables

    monkeypatch.setattr(phases, "shipped_tables", with_a_duplicate_key)
    with pytest.raises(ChecksFailed, match="unplanned defect") as caught:
        challenge_flow(brief=BRIEF, rows=600, seed=12, approval="auto", output_dir=str(tmp_path))
    docs = Path(re.search(r"the data docs in (\S+),", str(caught.value)).group(1))
    assert (docs / "index.html").exists() and (docs / "expectations" / "uniqueness.html").exists()
    assert not list(tmp_path.rglob("codebasics_data_challenge_*.zip"))  # only the run's own CSV archive exists


def test_manual_run_regenerates_with_feedback_then_completes(tmp_path: Path) -> None:
    """A person asks for changes at gate 1 through the API, then approves every gate."""
    with RunInThread(brief=BRIEF, rows=400, seed=5, approval="manual", output_dir=str(tmp_path)) as run:
        run.wait_for_gate("gate-1-attempt-0")
        assert {"gate-1-problem", "challenge-spec"} <= _artifact_keys(run.run_id)
        run.answer(decision="regenerate", feedback="make it harder")
        run.wait_for_gate("gate-1-attempt-1")
        run.answer(decision="approve")
        run.wait_for_gate("gate-2-attempt-0")
        assert {"gate-2-schema", "gate-2-columns"} <= _artifact_keys(run.run_id)
        run.answer(decision="approve")
        run.wait_for_gate("gate-3-attempt-0")
        assert "gate-3-preview" in _artifact_keys(run.run_id)
        run.answer(decision="approve")
        state = run.finish()
    assert state.is_completed(), state
    result = state.result()
    with zipfile.ZipFile(result.package) as zf:
        spec = yaml.safe_load(zf.read("challenge.yaml"))
    assert spec["challenge"]["difficulty"] == "hard"
    assert {"generation-progress", "package-link"} <= _artifact_keys(run.run_id)


def test_rejected_run_ends_with_its_reason(tmp_path: Path) -> None:
    with RunInThread(brief=BRIEF, rows=300, seed=3, approval="manual", output_dir=str(tmp_path)) as run:
        run.wait_for_gate("gate-1-attempt-0")
        run.answer(decision="reject", feedback="wrong industry for this cohort")
        state = run.finish()
    assert state.name == "Rejected"
    assert "wrong industry for this cohort" in state.message
    assert not list(tmp_path.rglob("*.zip")), "a rejected run leaves no package"


def test_invalid_edited_spec_is_refused_and_the_gate_reopens(tmp_path: Path) -> None:
    """A broken edit sent through the API must not end the run: the gate reopens with the reason."""
    with RunInThread(brief=BRIEF, rows=300, seed=4, approval="manual", output_dir=str(tmp_path)) as run:
        run.wait_for_gate("gate-1-attempt-0")
        run.answer(decision="approve", spec_yaml="challenge: {id: x}\ntables: []\n")
        run.wait_for_gate("gate-1-attempt-1")
        assert "gate-1-edit-error" in _artifact_keys(run.run_id)
        run.answer(decision="reject", feedback="done testing")
        state = run.finish()
    assert state.name == "Rejected"
    assert not list(tmp_path.rglob("*.zip"))


def test_cli_refuses_an_invalid_edited_spec_before_resuming(tmp_path: Path, capsys) -> None:
    """`datafactory approve --spec` validates the file locally: a bad edit never reaches the run."""
    from flows.cli import main

    bad = tmp_path / "edited.yaml"
    bad.write_text("challenge: {id: x}\ntables: []\n")
    code = main(["approve", str(uuid.uuid4()), "--spec", str(bad)])
    assert code == 2
    assert "problem(s) in the challenge spec" in capsys.readouterr().err


@pytest.mark.parametrize(
    "params, message",
    [
        ({"brief": "   "}, "the brief is empty"),
        ({"brief": BRIEF, "rows": 0}, "rows must be a positive number"),
        ({"brief": BRIEF, "domain": "space_mining"}, "unknown domain 'space_mining'"),
    ],
)
def test_bad_input_fails_clearly_and_leaves_no_package(tmp_path: Path, params: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        challenge_flow(**params, approval="auto", output_dir=str(tmp_path))
    assert not list(tmp_path.rglob("*.zip"))


def _task_states(run_id: str) -> dict[str, str]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(run_id)])))
    return {r.name: r.state.name for r in runs if r.state}


def test_a_run_started_again_takes_finished_phases_from_the_cache(tmp_path: Path) -> None:
    """Crash resume: phase results are persisted by their inputs, so starting again redoes no approved work."""
    ids: list[str] = []

    def remember(event: str, data: dict) -> None:
        if event == "run-started":
            ids.append(data["run_id"])

    listen(remember)
    try:
        first = challenge_flow(brief=BRIEF, rows=300, seed=21, approval="auto", output_dir=str(tmp_path))
        second = challenge_flow(brief=BRIEF, rows=300, seed=21, approval="auto", output_dir=str(tmp_path))
    finally:
        forget(remember)
    states = _task_states(ids[1])
    cached = {name.rsplit("-", 1)[0] if name[-1].isdigit() else name: state for name, state in states.items()}
    assert states, "the second run recorded no task runs"
    for phase in ("design-challenge-attempt", "validate-schema", "preview", "check-quality", "answer-questions"):
        assert any(n.startswith(phase) and s == "Cached" for n, s in states.items()), (phase, cached)
    with zipfile.ZipFile(first.package) as a, zipfile.ZipFile(second.package) as b:
        for name in [n for n in a.namelist() if n.endswith(".csv")]:
            assert a.read(name) == b.read(name), name


def test_learn_from_sample_runs_phases_3_to_5_on_synthetic_data(tmp_path: Path) -> None:
    """--sample: the spec comes from the author's CSVs, SDV makes the data, no sample value leaks out."""
    sample = Path(__file__).parent / "fixtures" / "sample_retail"
    result = challenge_flow(
        brief="An online store wants to understand its sales",
        rows=3_000,
        seed=8,
        approval="auto",
        output_dir=str(tmp_path),
        sample_dir=str(sample),
    )
    assert result.status == "completed"
    with zipfile.ZipFile(result.package) as zf:
        names = set(zf.namelist())
        customers = zf.read("customers.csv").decode()
        pdf = zf.read("quality_report.pdf")
    assert {"metadata.json", "challenge.yaml", "customers.csv", "orders.csv"} <= names
    import io

    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Synthetic vs sample (SDV)" in text, "SDV's scores belong in the quality report"
    sample_emails = {line.split(",")[3] for line in (sample / "customers.csv").read_text().splitlines()[1:]}
    assert not [e for e in sample_emails if e and e in customers], "an identifying value was copied from the sample"
    assert result.row_counts["orders"] == 3_000


def test_missing_sample_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sample folder .* does not exist"):
        challenge_flow(brief=BRIEF, approval="auto", output_dir=str(tmp_path), sample_dir=str(tmp_path / "nope"))


def test_cli_status_and_download_find_a_finished_run(tmp_path: Path, capsys) -> None:
    from flows.cli import main

    ids: list[str] = []
    listen(recorder := (lambda event, data: ids.append(data["run_id"]) if event == "run-started" else None))
    try:
        result = challenge_flow(brief=BRIEF, rows=300, seed=31, approval="auto", output_dir=str(tmp_path / "out"))
    finally:
        forget(recorder)
    assert main(["status", ids[0]]) == 0
    status = capsys.readouterr().out
    assert "Completed" in status and "package-link" in status
    assert main(["download", ids[0], "--to", str(tmp_path / "got")]) == 0
    copied = tmp_path / "got" / Path(result.package).name
    assert copied.read_bytes() == Path(result.package).read_bytes()


def test_storage_setting_is_used_when_the_run_names_none(tmp_path: Path, monkeypatch) -> None:
    """DATAFACTORY_STORAGE (documented in the README) decides where packages go when --storage is absent."""
    monkeypatch.setenv("DATAFACTORY_STORAGE", str(tmp_path / "shelf"))
    result = challenge_flow(brief=BRIEF, rows=300, seed=41, approval="auto", output_dir=str(tmp_path / "out"))
    assert Path(result.package).is_relative_to(tmp_path / "shelf")
