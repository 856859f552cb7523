"""The two ZIP packages: exact contents, safe entry names, no answers for learners, nothing half-written."""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from schemas.serialize import spec_from_yaml
from schemas.spec import ChallengeSpec, MessinessRule, ScenarioCondition, ScenarioSpec, VolumeEffect
from tasks.engine.output import generate_to_files
from tasks.package import PackageError, build_packages, safe_entry_name, write_data_archive
from tasks.reports.data_dictionary import profile_csvs, render_data_dictionary

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Generated:
    spec: ChallengeSpec
    csv: dict[str, Path]
    row_counts: dict[str, int]
    parquet: dict[str, Path]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Generated:
    """The clinic fixture with a planted scenario and planted messiness, so there is answer material to hide."""
    spec = spec_from_yaml((FIXTURES / "package_clinic.yaml").read_text())
    spec = spec.model_copy(
        update={
            "scenarios": [
                ScenarioSpec(
                    name="spring_cardiology_rush",
                    description="Cardiology visits doubled in April after a screening campaign nobody announced.",
                    table="visits",
                    condition=ScenarioCondition(date_column="booked_at", start="2024-04-01", end="2024-04-30"),
                    effect=VolumeEffect(factor=1.5),
                )
            ],
            "messiness": [MessinessRule(kind="whitespace", table="patients", column="city", rate=0.05)],
        }
    )
    files = generate_to_files(spec, tmp_path_factory.mktemp("clinic"))
    return Generated(spec, files.csv, files.row_counts, files.parquet)


@pytest.fixture
def extras(tmp_path) -> dict[str, Path]:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 quality report")
    xlsx = tmp_path / "answers.xlsx"
    xlsx.write_bytes(b"PK answer workbook")
    log = tmp_path / "issue_log.csv"
    log.write_text("table,column,row,kind\npatients,city,3,whitespace\n")
    docs = tmp_path / "docs"
    (docs / "validations").mkdir(parents=True)
    (docs / "index.html").write_text("<html>data docs</html>")
    (docs / "validations" / "run.html").write_text("<html>run</html>")
    return {
        "quality_report.pdf": pdf,
        "analytical_answers.xlsx": xlsx,
        "instructor/issue_log.csv": log,
        "instructor/data_docs": docs,
    }


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_full_package_holds_every_root_entry(clinic: Generated, extras, tmp_path) -> None:
    """The issue's list: CSVs, reports, dictionary, README, spec, three SQL scripts, SDV metadata, instructor/."""
    # Run
    paths = build_packages(clinic.spec, clinic.csv, tmp_path / "out", extras=extras)

    # Assert
    assert paths.full.name == "codebasics_data_challenge_clinic-visits-test.zip"
    assert paths.learner.name == "codebasics_data_challenge_clinic-visits-test_learner.zip"
    entries = _entries(paths.full)
    assert sorted(entries) == sorted(
        [
            "doctors.csv",
            "patients.csv",
            "visits.csv",
            "quality_report.pdf",
            "analytical_answers.xlsx",
            "data_dictionary.txt",
            "README.txt",
            "challenge.yaml",
            "sql/postgresql.sql",
            "sql/mysql.sql",
            "sql/duckdb.sql",
            "metadata.json",
            "schema_diagram.png",
            "instructor/issue_log.csv",
            "instructor/data_docs/index.html",
            "instructor/data_docs/validations/run.html",
        ]
    )
    assert entries["visits.csv"] == clinic.csv["visits"].read_bytes()
    assert entries["quality_report.pdf"] == b"%PDF-1.4 quality report"
    assert spec_from_yaml(entries["challenge.yaml"].decode()) == clinic.spec
    readme = entries["README.txt"].decode()
    assert "Not produced" not in readme
    assert "spring_cardiology_rush" in readme  # the instructor section names the planted scenario
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([paths.full.name, paths.learner.name])


def test_learner_package_holds_no_answer_material(clinic: Generated, extras, tmp_path) -> None:
    """Learners get data, dictionary, README, questions and DDL; no answers, SQL solutions, scenarios or issues."""
    # Run
    paths = build_packages(clinic.spec, clinic.csv, tmp_path, extras=extras)

    # Assert
    entries = _entries(paths.learner)
    assert sorted(entries) == sorted(
        [
            "doctors.csv",
            "patients.csv",
            "visits.csv",
            "data_dictionary.txt",
            "README.txt",
            "questions.txt",
            "schema_diagram.png",
            "sql/postgresql.sql",
            "sql/mysql.sql",
            "sql/duckdb.sql",
        ]
    )
    assert entries["schema_diagram.png"].startswith(b"\x89PNG")
    text = "\n".join(v.decode() for k, v in entries.items() if not k.endswith((".csv", ".png")))
    for question in clinic.spec.questions:
        assert question.text in text  # the questions are there
        assert question.sql.strip() not in text  # their solutions are not
    for secret in [
        "spring_cardiology_rush",
        "screening campaign",
        "whitespace",
        "issue_log",
        "analytical_answers",
        "quality_report",
        "INSTRUCTOR",
        "challenge.yaml",
    ]:
        assert secret not in text, secret


def test_missing_and_empty_reports_are_listed_with_their_reason_not_shipped(
    clinic: Generated, extras, tmp_path
) -> None:
    """README.txt says which report was not produced and why; an empty file never ships."""
    # Setup
    empty = tmp_path / "empty.pdf"
    empty.touch()
    given = {"quality_report.pdf": empty, "instructor/issue_log.csv": extras["instructor/issue_log.csv"]}

    # Run
    paths = build_packages(
        clinic.spec,
        clinic.csv,
        tmp_path / "out",
        extras=given,
        not_produced={"analytical_answers.xlsx": "the answer key step failed: question q2 timed out"},
    )

    # Assert
    entries = _entries(paths.full)
    assert "quality_report.pdf" not in entries and "analytical_answers.xlsx" not in entries
    readme = entries["README.txt"].decode()
    assert "Not produced in this run:" in readme
    assert "analytical_answers.xlsx: the answer key step failed: question q2 timed out" in readme
    assert "quality_report.pdf: the file empty.pdf was empty" in readme
    assert all(len(data) > 0 for data in entries.values())


def test_data_dictionary_describes_every_table_and_column(clinic: Generated, tmp_path) -> None:
    # Run
    paths = build_packages(clinic.spec, clinic.csv, tmp_path)
    text = _entries(paths.full)["data_dictionary.txt"].decode()

    # Assert
    for table in clinic.spec.tables:
        assert f"TABLE {table.name} ({table.role}, {clinic.row_counts[table.name]:,} rows)" in text
        for column in table.columns:
            assert f"\n  {column.name}\n    Type: {column.type} (" in text
    assert "    Unit: USD" in text
    assert "Keys: foreign key -> doctors.doctor_id" in text
    assert "Keys: primary key; referenced by visits.doctor_id" in text
    assert "Allowed values: General, Paediatrics, Cardiology, Ear, Nose & Throat" in text
    assert "Declared range: 20.00 to 250.00" in text
    assert "Range in the data: 20" in text
    assert "PLANTED DATA ISSUES" in text  # the instructor copy names them
    assert "PLANTED DATA ISSUES" not in render_data_dictionary(clinic.spec, learner=True)


def test_data_dictionary_reads_parquet_where_it_equals_the_csv(clinic: Generated, tmp_path) -> None:
    """Given the Parquet twins, clean tables are read from Parquet with the same result; a messy table from its CSV."""
    # Setup: the planted whitespace lives only in the shipped CSV of patients
    messy_csv = tmp_path / "patients.csv"
    with clinic.csv["patients"].open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index("city")] = ""  # a planted missing value
    with messy_csv.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    csv_files = {**clinic.csv, "patients": messy_csv}

    # Run
    from_csv = profile_csvs(clinic.spec, csv_files)
    from_parquet = profile_csvs(clinic.spec, csv_files, clinic.parquet)
    paths = build_packages(clinic.spec, csv_files, tmp_path / "out", parquet=clinic.parquet)

    # Assert
    assert from_parquet == from_csv
    clean = profile_csvs(clinic.spec, clinic.csv, clinic.parquet)
    assert from_parquet["patients"].columns["city"].non_null == clean["patients"].columns["city"].non_null - 1
    text = _entries(paths.full)["data_dictionary.txt"].decode()
    assert text == render_data_dictionary(clinic.spec, from_csv, learner=False)


def test_both_packages_are_readable_by_everyone_and_share_the_data_entries(clinic: Generated, extras, tmp_path) -> None:
    paths = build_packages(clinic.spec, clinic.csv, tmp_path / "out", extras=extras)
    for package in (paths.full, paths.learner):
        assert package.stat().st_mode & 0o777 == 0o644
    with zipfile.ZipFile(paths.full) as full, zipfile.ZipFile(paths.learner) as learner:
        for table in clinic.spec.table_names:
            a, b = full.getinfo(f"{table}.csv"), learner.getinfo(f"{table}.csv")
            assert (a.CRC, a.compress_size, a.file_size) == (b.CRC, b.compress_size, b.file_size)
            assert a.compress_type == zipfile.ZIP_DEFLATED
        assert full.testzip() is None and learner.testzip() is None


def test_a_data_archive_made_earlier_gives_the_same_packages(clinic: Generated, extras, tmp_path) -> None:
    """The CSVs compressed ahead of time are copied in; a stale archive (a CSV changed since) is not used."""
    # Setup
    archive = write_data_archive(clinic.spec, clinic.csv, tmp_path / "early" / "data.zip")
    plain = build_packages(clinic.spec, clinic.csv, tmp_path / "plain", extras=extras)

    # Run
    reused = build_packages(clinic.spec, clinic.csv, tmp_path / "reused", extras=extras, data_archive=archive)
    changed = tmp_path / "visits.csv"
    lines = clinic.csv["visits"].read_text().splitlines(keepends=True)
    changed.write_text("".join(lines[:-1]))  # one row fewer than when the archive was made
    csv_files = {**clinic.csv, "visits": changed}
    stale = build_packages(clinic.spec, csv_files, tmp_path / "stale", extras=extras, data_archive=archive)

    # Assert
    for a, b in ((plain.full, reused.full), (plain.learner, reused.learner)):
        assert _entries(a) == _entries(b)
    assert _entries(stale.full)["visits.csv"] == changed.read_bytes()
    assert _entries(stale.learner)["visits.csv"] == changed.read_bytes()
    assert archive.exists()  # still there for a retried package step
    with pytest.raises(PackageError, match="no CSV given for table"):
        write_data_archive(clinic.spec, {"visits": clinic.csv["visits"]}, tmp_path / "x.zip")


def test_metadata_json_is_valid_sdv_metadata(clinic: Generated, tmp_path) -> None:
    """SDV can load the exported metadata and finds it consistent (keys, relationships, sdtypes)."""
    from sdv.metadata import Metadata

    paths = build_packages(clinic.spec, clinic.csv, tmp_path)
    data = json.loads(_entries(paths.full)["metadata.json"])
    metadata = Metadata.load_from_dict(data)
    metadata.validate()
    assert sorted(data["tables"]) == sorted(clinic.spec.table_names)
    assert len(data["relationships"]) == len(clinic.spec.relationships)
    assert data["tables"]["patients"]["columns"]["patient_id"] == {"sdtype": "id", "regex_format": "PAT\\-[0-9]{4}"}


# --------------------------------------------------------------------------- safety and bad input


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "../evil.csv", "a/../../b", "C:/x.csv", "a\\b.csv", "sql//x.sql", ".hidden", "a/./b", "x\x00y", ""],
)
def test_unsafe_entry_names_are_refused(name) -> None:
    with pytest.raises(PackageError, match="ZIP entry name"):
        safe_entry_name(name)


def test_hostile_table_name_never_reaches_the_zip(clinic: Generated, tmp_path) -> None:
    """The spec model forbids such names, but a spec built without validation must not write outside the folder."""
    # Setup
    table = clinic.spec.tables[0]
    hostile = table.model_construct(**{**dict(table), "name": "../../etc/cron.d/evil"})
    spec = clinic.spec.model_construct(**{**dict(clinic.spec), "tables": [hostile, *clinic.spec.tables[1:]]})
    csv_files = {**clinic.csv, hostile.name: clinic.csv[table.name]}

    # Run
    with pytest.raises(PackageError, match="table name '../../etc/cron.d/evil' cannot be a file name"):
        build_packages(spec, csv_files, tmp_path / "out")

    # Assert
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("name", ["../escape.pdf", "/abs.pdf", "README.txt", "sql/postgresql.sql", "visits.csv"])
def test_extras_cannot_escape_or_replace_package_files(clinic: Generated, extras, tmp_path, name) -> None:
    with pytest.raises(PackageError):
        build_packages(clinic.spec, clinic.csv, tmp_path / "out", extras={name: extras["quality_report.pdf"]})
    assert not (tmp_path / "out").exists()


def test_every_entry_unzips_inside_its_folder(clinic: Generated, extras, tmp_path) -> None:
    paths = build_packages(clinic.spec, clinic.csv, tmp_path / "out", extras=extras)
    for package in (paths.full, paths.learner):
        target = (tmp_path / package.stem).resolve()
        with zipfile.ZipFile(package) as zf:
            for name in zf.namelist():
                assert safe_entry_name(name) == name
                assert (target / name).resolve().is_relative_to(target)


def test_a_csv_that_does_not_match_the_spec_is_refused(clinic: Generated, tmp_path) -> None:
    # Setup
    wrong = tmp_path / "visits.csv"
    wrong.write_text("visit_id,doctor\n1,2\n")

    # Run / Assert
    with pytest.raises(PackageError, match=r"visits\.csv has columns \['visit_id', 'doctor'\] but the spec says"):
        build_packages(clinic.spec, {**clinic.csv, "visits": wrong}, tmp_path / "out")
    with pytest.raises(PackageError, match="no CSV given for table\\(s\\) visits; generate the dataset again"):
        build_packages(clinic.spec, {k: v for k, v in clinic.csv.items() if k != "visits"}, tmp_path / "out")
    with pytest.raises(PackageError, match="both supplied in extras and declared not produced"):
        build_packages(
            clinic.spec,
            clinic.csv,
            tmp_path / "out",
            extras={"quality_report.pdf": clinic.csv["visits"]},
            not_produced={"quality_report.pdf": "failed"},
        )


def test_a_failure_while_writing_leaves_no_package(clinic: Generated, extras, tmp_path, monkeypatch) -> None:
    """A crash half-way (disk full, killed) leaves neither ZIP nor a temporary file behind."""
    # Setup
    original = zipfile.ZipFile.open
    calls = []

    def write_then_fail(self, name, mode="r", *args, **kwargs):
        if mode == "w":  # the packager streams every file entry through ZipFile.open(info, "w")
            calls.append(name)
            if len(calls) == 3:
                raise OSError(28, "No space left on device")
        return original(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", write_then_fail)

    # Run
    with pytest.raises(OSError, match="No space left on device"):
        build_packages(clinic.spec, clinic.csv, tmp_path / "out", extras=extras)

    # Assert
    assert list((tmp_path / "out").iterdir()) == []


def test_spec_yaml_in_the_package_round_trips(clinic: Generated, tmp_path) -> None:
    paths = build_packages(clinic.spec, clinic.csv, tmp_path)
    data = yaml.safe_load(_entries(paths.full)["challenge.yaml"])
    assert data["challenge"]["id"] == "clinic-visits-test"
    assert [q["id"] for q in data["questions"]] == ["q1", "q2"]


def test_entries_unpack_readable_by_all_and_readme_is_never_cut(clinic: Generated, extras, tmp_path) -> None:
    """Every entry is 0644 (CSV files written 0600 too); README lists full descriptions and its own tables."""
    for path in clinic.csv.values():
        path.chmod(0o600)
    paths = build_packages(clinic.spec, clinic.csv, tmp_path / "out", extras=extras)
    for package in (paths.full, paths.learner):
        assert package.stat().st_mode & 0o777 == 0o644
        with zipfile.ZipFile(package) as zf:
            modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in zf.infolist()}
        assert set(modes.values()) == {0o644}, modes
    readme = _entries(paths.learner)["README.txt"].decode()
    for table in clinic.spec.tables:
        assert " ".join(table.description.split()) in " ".join(readme.split()), table.name  # not cut at 50
    assert "orders.csv" not in readme  # the examples name this challenge's own tables
    fact = next(t for t in clinic.spec.tables if t.role == "fact")
    assert f"SELECT * FROM '{fact.name}.csv'" in readme and f"pd.read_csv('{fact.name}.csv'" in readme
    assert "WHAT TO DELIVER" in readme and "dashboard" in readme
    assert all(len(line) <= 120 for line in readme.splitlines())


def test_data_docs_open_offline_without_gifs(clinic: Generated, extras, tmp_path) -> None:
    """CDN styles and scripts are removed, the index table is rendered as HTML rows, GIFs are left out."""
    docs = extras["instructor/data_docs"]
    (docs / "static" / "images").mkdir(parents=True)
    (docs / "static" / "images" / "glossary_scroller.gif").write_bytes(b"GIF89a" + b"\0" * 100)
    (docs / "index.html").write_text(
        '<html><head><link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script></head><body>'
        '<table\n  id="t1"\n  class="x" \n  data-toggle="table"\n>\n</table>'
        "<script>$('#t1').bootstrapTable(Object.assign({columns: [{'field': 'expectation_suite_name', "
        "'title': 'Suite'}, {'field': 'run_time', 'title': 'Run Time'}], data: [{'expectation_suite_name': "
        "'validity [x]', 'run_time': '2024-01-01', '_table_row_link_path': 'validations/run.html'}]}))</script>"
        "</body></html>"
    )
    paths = build_packages(clinic.spec, clinic.csv, tmp_path / "out", extras=extras)
    entries = _entries(paths.full)
    assert not any(name.endswith(".gif") for name in entries)
    index = entries["instructor/data_docs/index.html"].decode()
    assert "bootstrapcdn" not in index and "code.jquery.com" not in index
    assert "<style>" in index  # its own styles travel with it
    assert '<a href="validations/run.html">validity [x]</a>' in index and "<th>Run Time</th>" in index
