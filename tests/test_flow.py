"""The challenge flow end to end in Prefect's test harness: auto, manual gates, rejection, bad input."""

from __future__ import annotations

import json
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
        from flows.gates import wait_for_gate_form

        with get_client(sync_client=True) as client:
            wait_for_gate_form(client, uuid.UUID(self.run_id))  # the form is stored just after the pause
        resume_flow_run(uuid.UUID(self.run_id), run_input={"feedback": "", "spec_yaml": "", **run_input})

    def state_message(self) -> str:
        with get_client(sync_client=True) as client:
            return client.read_flow_run(uuid.UUID(self.run_id)).state.message or ""

    def form_description(self) -> str:
        """The markdown the UI shows above the Resume form of the gate the run waits at."""
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(uuid.UUID(self.run_id)).state
            keyset = state.state_details.run_input_keyset
            return json.loads(client.read_flow_run_input(uuid.UUID(self.run_id), keyset["description"]))

    def finish(self, timeout: float = 300):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not finish"
        return self.state


def _artifacts(run_id: str) -> dict:
    """The run's artifacts by key (each key once: every gate attempt publishes under its own keys)."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(run_id)]))
        )
    keys = [a.key for a in found if a.key]
    assert len(keys) == len(set(keys)), f"an artifact key was published twice: {sorted(keys)}"
    return {a.key: a for a in found if a.key}


def _spec_of(artifact) -> dict:
    """The spec data of a spec artifact (a fenced YAML block)."""
    return yaml.safe_load(artifact.data.removeprefix("```yaml\n").removesuffix("```"))


def _artifact_keys(run_id: str) -> set[str]:
    return set(_artifacts(run_id))


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
    """A person asks for changes at gates 1 and 2 through the API, sees what was understood, approves (gate 3 by
    the CLI); each attempt has its own artifacts, the spec reads as YAML with SQL blocks, gate 3 shows answers."""
    from flows.cli import main

    with RunInThread(brief=BRIEF, rows=400, seed=5, approval="manual", output_dir=str(tmp_path)) as run:
        run.wait_for_gate("gate-1-attempt-0")
        assert {"gate-1-attempt-0-problem", "gate-1-attempt-0-spec"} <= _artifact_keys(run.run_id)
        assert "Checks: passed." in run.form_description()
        run.answer(decision="regenerate", feedback="make it harder")
        run.wait_for_gate("gate-1-attempt-1")
        assert "Feedback handling" in _artifacts(run.run_id)["gate-1-attempt-1-problem"].data
        run.answer(decision="approve")
        run.wait_for_gate("gate-2-attempt-0")
        assert {"gate-2-attempt-0-schema", "gate-2-attempt-0-columns"} <= _artifact_keys(run.run_id)
        run.answer(decision="regenerate", feedback="add a scenario about a price increase")
        run.wait_for_gate("gate-2-attempt-1")
        found = _artifacts(run.run_id)
        schema = found["gate-2-attempt-1-schema"].data
        assert "## Feedback handling" in schema and "applied 'add a scenario about a price increase'" in schema
        spec_text = found["gate-2-attempt-1-spec"].data
        edited = _spec_of(found["gate-2-attempt-1-spec"])
        added = [s for s in edited["scenarios"] if s["name"].endswith("_increase")]
        assert added and "Management also wants to know what happened to" in edited["challenge"]["problem_statement"]
        assert "  sql: |" in spec_text and "\\n" not in spec_text, "SQL is a literal block, not an escaped string"
        run.answer(decision="approve")
        run.wait_for_gate("gate-3-attempt-0")
        found = _artifacts(run.run_id)
        preview = found["gate-3-attempt-0-preview"].data
        assert "## Key and type checks" in preview and "| foreign key | orders.customer_id -> customers" in preview
        assert re.search(r"### q\d+: .+\n(runs|\*\*FAILS)", preview), "each question says whether it runs"
        assert re.search(r"runs, [1-9]\d* row\(s\)\n\n\| \w", preview), "answer rows are shown as tables"
        tables = [a for k, a in found.items() if k.startswith("gate-3-attempt-0-table-")]
        cells = {v for a in tables for row in json.loads(a.data) for v in row.values()}
        assert tables and not cells & {"nan", "NaN", "None", "NaT", "<NA>"}, "missing values are empty cells"
        assert main(["approve", run.run_id]) == 0  # the CLI waits for the form, then answers
        state = run.finish()
    assert state.is_completed(), state
    result = state.result()
    with zipfile.ZipFile(result.package) as zf:
        spec = yaml.safe_load(zf.read("challenge.yaml"))
    assert spec["challenge"]["difficulty"] == "hard"
    assert [s for s in spec["scenarios"] if s["name"] == added[0]["name"]]
    found = _artifacts(run.run_id)
    assert {"generation-progress", "package-link"} <= set(found)
    assert str(found["generation-progress"].flow_run_id) == run.run_id, "progress shows on the run's Artifacts tab"
    link = found["package-link"]
    assert link.type == "markdown" and f"datafactory download {run.run_id}" in link.data
    assert str(Path(result.package)) in link.data and "file://" not in link.data


def test_rejected_run_ends_with_its_reason(tmp_path: Path) -> None:
    with RunInThread(brief=BRIEF, rows=300, seed=3, approval="manual", output_dir=str(tmp_path)) as run:
        run.wait_for_gate("gate-1-attempt-0")
        run.answer(decision="reject", feedback="wrong industry for this cohort")
        state = run.finish()
    assert state.name == "Rejected"
    assert "wrong industry for this cohort" in state.message
    assert not list(tmp_path.rglob("*.zip")), "a rejected run leaves no package"


def test_invalid_edited_spec_is_refused_and_the_gate_reopens(tmp_path: Path) -> None:
    """A broken edit sent through the API must not end the run nor lose the reviewed design: the same spec is
    shown again (nothing regenerated), the form says the edit was refused and why."""
    with RunInThread(brief=BRIEF, rows=300, seed=4, approval="manual", output_dir=str(tmp_path)) as run:
        run.wait_for_gate("gate-1-attempt-0")
        reviewed = _artifacts(run.run_id)["gate-1-attempt-0-spec"].data
        run.answer(decision="regenerate", feedback="make it easier", spec_yaml="challenge: {id: x}\ntables: []\n")
        run.wait_for_gate("gate-1-attempt-1")
        found = _artifacts(run.run_id)
        assert found["gate-1-attempt-1-spec"].data == reviewed, "a refused edit keeps the reviewed spec"
        assert "problem(s) in the challenge spec" in found["gate-1-attempt-1-edit-refused"].data
        form = run.form_description()
        assert "edited spec was refused" in form and "problem(s) in the challenge spec" in form
        assert "Checks: passed." in form
        message = run.state_message()  # the run's state says it too (UI header, `datafactory status`)
        assert message.startswith("Waiting at gate 1 (problem statement and questions), attempt 1: your edited spec")
        assert "problem(s) in the challenge spec" in message
        assert not any(n.startswith("design-challenge-attempt-1") for n in _task_states(run.run_id))
        run.answer(decision="approve")
        run.wait_for_gate("gate-2-attempt-0")
        assert _spec_of(_artifacts(run.run_id)["gate-2-attempt-0-spec"]) == _spec_of(found["gate-1-attempt-0-spec"])
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
    link = _artifacts(ids[0])["package-link"]
    assert link.type == "markdown" and f"datafactory download {ids[0]} --to ." in link.data
    assert main(["approve", ids[0]]) == 2  # a finished run has no gate to answer: said at once, no waiting
    assert "is not waiting at a gate (state: Completed)" in capsys.readouterr().err
    assert main(["download", ids[0], "--to", str(tmp_path / "got")]) == 0
    copied = tmp_path / "got" / Path(result.package).name
    assert copied.read_bytes() == Path(result.package).read_bytes()


def test_storage_setting_is_used_when_the_run_names_none(tmp_path: Path, monkeypatch) -> None:
    """DATAFACTORY_STORAGE (documented in the README) decides where packages go when --storage is absent."""
    monkeypatch.setenv("DATAFACTORY_STORAGE", str(tmp_path / "shelf"))
    result = challenge_flow(brief=BRIEF, rows=300, seed=41, approval="auto", output_dir=str(tmp_path / "out"))
    assert Path(result.package).is_relative_to(tmp_path / "shelf")
