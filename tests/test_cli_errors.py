"""CLI errors: printed literally, named, early and in one line (issues 17 and 18).

Each test reproduces a reported failure: Rich markup ate ``[sdv]`` and crashed on ``[/x]``; bad
options failed only after the Prefect server started; ``validate`` printed a raw ``ArrowInvalid``,
"error: error: Error -3" and a temp folder; ``status`` crashed on a failed run and printed
``ObjectNotFound: None`` for an unknown id. No test here starts Prefect.
"""

from __future__ import annotations

import os
import uuid
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import flows.challenge
from flows import cli
from schemas.serialize import spec_to_yaml

BRIEF = "An online store is losing customers in the West"


@pytest.fixture(autouse=True)
def no_flow(monkeypatch):
    """Any test that reaches the flow (and so Prefect) fails: every refusal here must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("the flow started; the option should have been refused before Prefect")

    monkeypatch.setattr(flows.challenge, "challenge_flow", refuse)


def _error(capsys) -> str:
    err = capsys.readouterr().err
    return " ".join(err.split())  # Rich wraps long lines; compare the words


# --------------------------------------------------------------------------- literal text


@pytest.mark.parametrize(
    "message",
    [
        "learning from a sample needs the sdv extra: pip install -e '.[sdv]'",
        "name must match '^[a-z][a-z0-9_]{0,62}$'",
        "unknown domain '[/x]'; see [bold]",
    ],
)
def test_error_text_prints_literally(capsys, message: str) -> None:
    assert cli._fail(message) == 2
    assert _error(capsys) == f"error: {message}"


def test_a_domain_with_markup_is_refused_literally_before_prefect(capsys) -> None:
    code = cli.main(["run", BRIEF, "--domain", "[/x]"])
    err = _error(capsys)
    assert code == 2
    assert "unknown domain '[/x]'" in err and "datafactory domains" in err


# --------------------------------------------------------------------------- options refused early, named


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--rows", "10000000000"], "--rows 10,000,000,000 is above the limit"),
        (["--rows", "0"], "--rows: rows must be a positive number, got 0"),
        (["--rows", "-5"], "--rows: rows must be a positive number, got -5"),
        (["--seed", "-1"], "--seed: seed must be 0 or more, got -1"),
        (["--variant", "-2"], "--variant: variant must be 0 or more"),
    ],
)
def test_bad_options_are_refused_before_prefect_naming_the_option(capsys, tmp_path, argv, expected) -> None:
    code = cli.main(["run", BRIEF, "--out", str(tmp_path / "out"), *argv])
    assert code == 2
    assert expected in _error(capsys)


def test_rows_above_the_limit_say_how_to_raise_it(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATAFACTORY_MAX_ROWS", "5000")
    assert cli.main(["run", BRIEF, "--rows", "6000", "--out", str(tmp_path)]) == 2
    err = _error(capsys)
    assert "--rows 6,000 is above the limit of 5,000 rows" in err and "raise DATAFACTORY_MAX_ROWS" in err


def test_an_out_that_is_a_file_is_refused_before_prefect(capsys, tmp_path) -> None:
    target = tmp_path / "taken.txt"
    target.write_text("not a folder")
    assert cli.main(["run", BRIEF, "--out", str(target)]) == 2
    assert f"--out: {target} is a file, not a folder" in _error(capsys)
    assert cli.main(["run", BRIEF, "--out", str(target / "below")]) == 2
    assert "--out: cannot write in" in _error(capsys)


def test_batch_with_an_out_that_is_a_file_is_refused_before_prefect(capsys, tmp_path) -> None:
    target = tmp_path / "taken.txt"
    target.write_text("not a folder")
    assert cli.main(["batch", "batches/none.yaml", "--out", str(target)]) == 2
    assert f"--out: {target} is a file, not a folder" in _error(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_refused_before_prefect(capsys, tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert cli.main(["run", BRIEF, "--out", str(folder)]) == 2
    finally:
        folder.chmod(0o700)
    assert "--out: cannot write in" in _error(capsys)


# --------------------------------------------------------------------------- validate


def _package(folder: Path, spec, first_csv: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "challenge.yaml").write_text(spec_to_yaml(spec))
    (folder / f"{spec.tables[0].name}.csv").write_bytes(first_csv)
    return folder


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty (0 bytes)"),
        (b"customer_id,name\nC1,Jos\xe9\xff\xfe\n", "is not UTF-8 text"),
        (b'\x00\x9c\x11"\x8f\n\x01"\x02\x03\n\xff\xd8\xff\xe0', "is not UTF-8 text"),
        (b"customer_id,name\nC1,a,b,c\n", "cannot be read as CSV"),
    ],
    ids=["empty", "bad-utf8", "garbage", "ragged"],
)
def test_validate_names_the_file_and_the_problem_of_an_unreadable_csv(
    capsys, tmp_path, retail_spec, content, problem
) -> None:
    folder = _package(tmp_path / "pkg", retail_spec, content)
    assert cli.main(["validate", str(folder)]) == 2
    err = _error(capsys)
    assert f"{folder / retail_spec.tables[0].name}.csv {problem}" in err
    assert "ArrowInvalid" not in err


def test_validate_prints_the_report_literally(capsys, tmp_path, retail_spec) -> None:
    import re

    folder = _package(tmp_path / "pkg", retail_spec, b"customer_id\nC[1]\n")
    assert cli.main(["validate", str(folder)]) == 1
    out = capsys.readouterr().out
    # the findings start with their category in brackets, and the example value keeps its own
    assert re.search(r"^  \[[a-z_]+\] customers", out, flags=re.MULTILINE), out
    assert "C[1]" in out


def test_validate_gives_one_clean_message_for_a_damaged_zip_member(capsys, tmp_path, retail_spec) -> None:
    archive = tmp_path / "package.zip"
    csv_name = f"{retail_spec.tables[0].name}.csv"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("challenge.yaml", spec_to_yaml(retail_spec))
        out.writestr(csv_name, "customer_id,name\n" + "".join(f"C{i},name {i}\n" for i in range(2000)))
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as read:
        info = read.getinfo(csv_name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + 60):  # scramble the compressed stream, not the directory
        data[i] ^= 0x5A
    archive.write_bytes(bytes(data))
    assert cli.main(["validate", str(archive)]) == 2
    err = _error(capsys)
    assert err.startswith(f"error: {archive}: member '{csv_name}' is damaged")
    assert "error: error" not in err


def test_validate_on_a_learner_package_says_what_it_is_and_what_to_validate(capsys, tmp_path) -> None:
    archive = tmp_path / "codebasics_data_challenge_shop-7_learner.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for name in ("questions.txt", "data_dictionary.txt", "README.txt", "customers.csv", "sql/duckdb.sql"):
            out.writestr(name, "x\n")
    assert cli.main(["validate", str(archive)]) == 2
    err = _error(capsys)
    assert f"{archive} is a learner package" in err
    assert "validate codebasics_data_challenge_shop-7.zip" in err
    assert "datafactory-validate-" not in err  # never the temporary folder


# --------------------------------------------------------------------------- status


class _Client:
    def __init__(self, run=None, artifacts=()):
        self.run, self.artifacts = run, list(artifacts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read_flow_run(self, run_id):
        if self.run is None:
            from prefect.exceptions import ObjectNotFound

            raise ObjectNotFound(http_exc=Exception("404"))
        return self.run

    def read_artifacts(self, **kwargs):
        return self.artifacts


def _failed_run():
    state = SimpleNamespace(
        name="Failed", message="Flow run encountered an exception: [sdv] ValueError", is_paused=lambda: False
    )
    return SimpleNamespace(name="brave-otter", state=state)


def test_status_of_a_failed_run_lists_artifacts_without_a_type(capsys, monkeypatch) -> None:
    import prefect.client.orchestration as orchestration

    artifacts = [
        SimpleNamespace(key=None, type=None, description=None, created=None),
        SimpleNamespace(key="challenge-spec", type="markdown", description="Spec [v1]", created=None),
    ]
    monkeypatch.setattr(orchestration, "get_client", lambda **kw: _Client(_failed_run(), artifacts))
    run_id = str(uuid.uuid4())
    assert cli.main(["status", run_id]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id} (brave-otter): Failed" in out
    assert "[sdv] ValueError" in out and "Spec [v1]" in out
    assert "challenge-spec" in out


def test_status_of_an_unknown_run_says_so(capsys, monkeypatch) -> None:
    import prefect.client.orchestration as orchestration

    monkeypatch.setattr(orchestration, "get_client", lambda **kw: _Client(None))
    run_id = str(uuid.uuid4())
    assert cli.main(["status", run_id]) == 2
    err = _error(capsys)
    assert f"no run with id {run_id}" in err and "ObjectNotFound" not in err


# --------------------------------------------------------------------------- storage


def test_a_storage_failure_says_where_the_packages_are_kept(tmp_path) -> None:
    # a storage folder that is a file fails for real and at once (an unreachable S3 endpoint takes
    # botocore's retries); every backend raises StorageError, which store_task completes with the path
    from tasks.package import PackagePaths
    from tasks.phases import store_task
    from tasks.settings import Settings
    from tasks.storage import StorageError

    package = tmp_path / "runs" / "shop-7-abc" / "package"
    package.mkdir(parents=True)
    paths = PackagePaths(full=package / "c.zip", learner=package / "c_learner.zip")
    for path in (paths.full, paths.learner):
        path.write_bytes(b"PK")
    blocked = tmp_path / "storage-is-a-file"
    blocked.write_text("")
    with pytest.raises(StorageError) as caught:
        store_task.fn(paths, str(blocked), "run-1", Settings(output_dir=tmp_path))
    assert f"The packages are kept in {package} (c.zip, c_learner.zip)" in str(caught.value)


# --------------------------------------------------------------------------- specs that cannot be generated (18.7)


def _infeasible(spec):
    """The issue's case: a unique column over 3 values in a table of thousands of rows."""
    from schemas.serialize import spec_from_data, spec_to_data

    data = spec_to_data(spec)
    table = next(t for t in data["tables"] if t.get("ratio") or t.get("rows"))
    table["columns"].append(
        {
            "name": "tier",
            "type": "category",
            "unique": True,
            "generator": {"kind": "categorical", "values": ["gold", "silver", "bronze"]},
        }
    )
    return spec_from_data(data), table["name"]


def test_phase_2_refuses_a_spec_the_engine_cannot_generate(retail_spec) -> None:
    from tasks.schema_check import validate_schema

    spec, table = _infeasible(retail_spec)
    validation = validate_schema(spec)
    assert not validation.passed and validation.score < 10
    assert any(f"tables.{table}.columns.tier" in p and "3 distinct values" in p for p in validation.problems)


def test_an_edited_spec_that_cannot_be_generated_is_refused_at_the_gate(retail_spec) -> None:
    from flows.gates import GateInput
    from schemas.errors import SpecError

    spec, table = _infeasible(retail_spec)
    answer = GateInput(decision="approve", feedback="", spec_yaml=spec_to_yaml(spec))
    with pytest.raises(SpecError, match=f"the edited spec cannot be generated: tables.{table}.columns.tier"):
        answer.edited_spec()
    assert GateInput(decision="approve", feedback="", spec_yaml=spec_to_yaml(retail_spec)).edited_spec() is not None


def test_approve_with_a_spec_that_cannot_be_generated_is_refused_before_it_is_sent(
    capsys, tmp_path, retail_spec, monkeypatch
) -> None:
    import prefect.client.orchestration as orchestration

    def no_client(**kwargs):
        raise AssertionError("the edit should have been refused before contacting the run")

    monkeypatch.setattr(orchestration, "get_client", no_client)
    spec, table = _infeasible(retail_spec)
    edited = tmp_path / "edited.yaml"
    edited.write_text(spec_to_yaml(spec))
    assert cli.main(["approve", str(uuid.uuid4()), "--spec", str(edited)]) == 2
    err = _error(capsys)
    assert f"tables.{table}.columns.tier" in err and "the run keeps waiting" in err
