"""Messiness on request: every entry point asks for it, each level plans sensible rules on three blueprints,
the cleaning questions' SQL on the messy data returns what the issue log says, and the package tells learners."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from schemas.errors import InputError
from schemas.serialize import spec_from_data, spec_to_data
from schemas.spec import MessinessRule
from tasks.cleaning_questions import cleaning_answers, is_cleaning_question, questions_for, topics
from tasks.domains import load_blueprint
from tasks.engine import generate_dataset
from tasks.engine.messiness import apply_messiness, to_arrow_lenient
from tasks.messiness_plan import (
    _key_columns,
    level_of,
    messiness_from_text,
    plan_messiness,
    planned,
    requested_level,
    rows_after_cleaning,
    with_messiness,
)
from tasks.sql_sandbox import run_query, sandbox

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = ("retail_ecommerce", "healthcare", "hospitality")
LEVELS = ("light", "heavy")


def _spec(domain: str, scale: int = 400):
    return load_blueprint(ROOT / "domains" / f"{domain}.yaml").spec.model_copy(update={"scale": scale})


# --------------------------------------------------------------------------- entry points


def test_cli_run_takes_a_messiness_level():
    from flows.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["run", "a brief", "--messiness", "heavy"]).messiness == "heavy"
    assert parser.parse_args(["run", "a brief"]).messiness is None  # the brief decides
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "a brief", "--messiness", "extreme"])


def test_batch_entries_take_a_level_and_pass_it_to_the_flow(tmp_path, monkeypatch):
    import flows.challenge
    from flows.batch import BatchItem, load_batch, run_batch_item

    plan = tmp_path / "batch.yaml"
    plan.write_text(yaml.safe_dump({"challenges": [{"domain": "retail_ecommerce", "rows": 300, "messiness": "heavy"}]}))
    item = load_batch(str(plan)).challenges[0]
    assert item.messiness == "heavy"
    assert BatchItem().messiness is None
    with pytest.raises(ValidationError):
        BatchItem(messiness="very")

    seen: dict = {}

    class Stop(Exception):
        pass

    def recorder(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(flows.challenge, "challenge_flow", recorder)
    with pytest.raises(Stop):
        run_batch_item.fn(0, item, None, None, 1)
    assert seen["messiness"] == "heavy" and seen["domain"] == "retail_ecommerce"


def test_flow_and_deployment_have_the_parameter():
    from flows.challenge import challenge_flow

    schema = challenge_flow.parameters.model_dump()["properties"]["messiness"]
    assert "none" in str(schema) and "heavy" in str(schema)
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    challenge = next(d for d in deployments if d["name"] == "challenge")
    assert "messiness" in challenge["parameters"]


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("An online store wants a data-cleaning exercise for its SQL learners", "light"),
        ("Learners must clean the data before they analyse churn", "light"),
        ("A hospital group; give us very messy data to practise on", "heavy"),
        ("slightly messy data for beginners", "light"),
        ("make the data messy", "light"),
        ("no messiness please", "none"),
        ("no messy data, the course is about joins", "none"),
        ("An online store is losing customers in the West", None),
        ("A maker of cleaning products is losing share", None),
        ("Our supply chain is messy and slow", None),
    ],
)
def test_brief_and_feedback_wording(text, level):
    assert messiness_from_text(text) == level


def test_dev_briefs_do_not_ask_for_mess():
    path = Path(__file__).resolve().parent / "fixtures" / "dev_briefs.yaml"
    if not path.exists():
        pytest.skip("the dev briefs are not on this machine")
    briefs = [entry["brief"] for entry in yaml.safe_load(path.read_text())]
    assert briefs and all(messiness_from_text(b) is None for b in briefs)


def test_option_wins_over_the_brief_and_bad_levels_are_refused():
    assert requested_level("none", "a data-cleaning exercise") == "none"
    assert requested_level(None, "a data-cleaning exercise") == "light"
    assert requested_level(None, "an online store") is None
    with pytest.raises(InputError, match="none, light, heavy"):
        requested_level("lots", "x")


def test_reviewer_feedback_about_mess_wins_over_the_option():
    spec = with_messiness(_spec("retail_ecommerce"), "heavy")
    assert planned(spec, "light", feedback="no messiness") is spec  # the feedback already re-planned it
    assert level_of(planned(spec, "light", feedback="more rows")) == "light"
    assert planned(spec, None) is spec


@pytest.mark.parametrize(
    ("start", "feedback", "check"),
    [
        ("light", "no messiness", lambda s: not s.messiness and not any(map(is_cleaning_question, s.questions))),
        ("none", "make the data messy", lambda s: level_of(s) == "light"),
        ("light", "make it very messy", lambda s: level_of(s) == "heavy"),
        ("light", "less messy data", lambda s: level_of(s) == "light"),  # refused: already light
        (
            "outliers",
            "add duplicates and missing values",
            lambda s: {r.kind for r in s.messiness} == {"duplicates", "missing", "outliers"},
        ),
        ("light", "no typos", lambda s: s.messiness and not any(r.kind == "typos" for r in s.messiness)),
    ],
)
def test_gate_feedback(start, feedback, check):
    from tasks.designer_offline import apply_feedback

    spec = _spec("retail_ecommerce")
    if start == "outliers":
        spec = with_messiness(spec, "light")
        spec = spec.model_copy(update={"messiness": [r for r in spec.messiness if r.kind == "outliers"]})
    else:
        spec = with_messiness(spec, start)
    data = spec_to_data(spec)
    notes = apply_feedback(data, feedback)
    revised = spec_from_data(data)
    assert check(revised), (feedback, notes, [(r.kind, r.table, r.column) for r in revised.messiness])
    assert notes[0].startswith("applied" if feedback != "less messy data" else "could not apply"), notes
    assert revised.scale == spec.scale  # "less/more ... data" is not read as a size change
    assert [q.id for q in revised.questions if is_cleaning_question(q)] == [q.id for q in questions_for(revised)]


def test_feedback_doc_lists_the_phrases():
    text = (ROOT / "docs" / "FEEDBACK.md").read_text()
    for phrase in ("no messiness", "add duplicates and missing values", "make the data messy"):
        assert phrase in text


# --------------------------------------------------------------------------- levels on three blueprints


@pytest.fixture(scope="module", params=[(d, lvl) for d in BLUEPRINTS for lvl in LEVELS], ids=lambda p: f"{p[0]}-{p[1]}")
def planted(request):
    domain, level = request.param
    spec = with_messiness(_spec(domain), level)
    clean = generate_dataset(spec)
    messy, log = apply_messiness(spec, clean)
    return spec, level, clean, messy, log


def test_levels_plan_sensible_rules(planted):
    spec, level, _, _, _ = planted
    kinds = {r.kind for r in spec.messiness}
    assert kinds == {"duplicates", "casing", "whitespace", "typos", "missing", "outliers", "date_formats"}
    keys = _key_columns(spec)
    for rule in spec.messiness:
        table = spec.table(rule.table)
        assert table.role != "aggregate" and not any(c.generator.kind == "date_sequence" for c in table.columns)
        if rule.column:
            assert (rule.table, rule.column) not in keys, rule  # keys keep the joins working
            column = table.column(rule.column)
            if rule.kind in ("casing", "typos", "whitespace"):
                assert column.type in ("string", "category")
            elif rule.kind == "outliers":
                assert column.type in ("int", "float", "decimal")
            elif rule.kind == "date_formats":
                assert column.type in ("date", "datetime")
        else:
            assert rule.kind == "duplicates" and table.primary_key
    assert level_of(spec) == level
    assert len(plan_messiness(spec, "heavy")) > len(plan_messiness(spec, "light"))
    assert plan_messiness(spec, "none") == []
    assert plan_messiness(spec, level) == plan_messiness(spec, level)  # same spec, same rules


def test_cleaning_sql_on_the_messy_data_returns_the_issue_log(planted):
    spec, _, _, messy, log = planted
    questions = [q for q in spec.questions if is_cleaning_question(q)]
    assert {t.kind for t in topics(spec)} == {"duplicates", "missing", "date_formats", "outliers", "text"}
    answers = cleaning_answers(spec, log)
    assert set(answers) == {q.id for q in questions}
    con = sandbox({name: to_arrow_lenient(frame, spec.table(name)) for name, frame in messy.items()})
    try:
        for question in questions:
            result = run_query(con, question.sql)
            got = [[_text(v) for v in row] for row in result.itertuples(index=False, name=None)]
            expected = [[_text(v) for v in row] for row in answers[question.id].rows]
            assert got == expected, (question.id, question.text, got[:3], expected[:3])
            assert expected, question.id  # every topic has at least one planted case
    finally:
        con.close()


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if hasattr(value, "is_integer") and not isinstance(value, int):
        return f"{float(value):.4f}"
    return str(value)


def test_gate_two_shows_the_level_and_the_rules(planted):
    from flows.review import schema_markdown
    from tasks.schema_check import validate_schema

    spec, level = planted[0], planted[1]
    validation = validate_schema(spec)  # the cleaning questions pass the schema check too
    assert all(q.answerable for q in validation.questions), [q for q in validation.questions if not q.answerable]
    text = schema_markdown(spec, validation)
    assert f"## Planted messiness: {level}" in text
    for rule in spec.messiness:
        assert f"| {rule.kind} | {rule.table} | {rule.column or '(whole rows)'} | {rule.rate:.1%} |" in text
    assert "## Planted messiness: none" in schema_markdown(with_messiness(spec, "none"), validation)


def test_rows_after_cleaning_are_the_clean_counts(planted):
    spec, _, clean, messy, _ = planted
    shipped = {name: len(frame) for name, frame in messy.items()}
    assert rows_after_cleaning(spec, shipped) == {name: len(frame) for name, frame in clean.items()}
    assert any(shipped[n] > len(clean[n]) for n in shipped)


def test_none_removes_the_mess_and_its_questions():
    spec = with_messiness(_spec("healthcare"), "heavy")
    assert any(map(is_cleaning_question, spec.questions))
    cleared = with_messiness(spec, "none")
    assert not cleared.messiness and not any(map(is_cleaning_question, cleared.questions))
    assert [q.id for q in cleared.questions] == [q.id for q in spec.questions if not is_cleaning_question(q)]


def test_hand_made_rules_are_custom_and_still_get_questions():
    spec = _spec("retail_ecommerce").model_copy(
        update={"messiness": [MessinessRule(kind="duplicates", table="customers", rate=0.05)]}
    )
    assert level_of(spec) == "custom"
    assert [q.answer_shape for q in questions_for(spec)] == ["scalar"]


# --------------------------------------------------------------------------- answers, quality, package text


@pytest.fixture(scope="module")
def retail_heavy():
    spec = with_messiness(_spec("retail_ecommerce", 500), "heavy")
    clean = generate_dataset(spec)
    messy, log = apply_messiness(spec, clean)
    return spec, clean, messy, log


def test_answer_key_takes_cleaning_answers_from_the_log(retail_heavy):
    from tasks.answers import compute_answers

    spec, clean, _, log = retail_heavy
    with_log = compute_answers(spec, clean, issue_log=log)
    without = compute_answers(spec, clean)
    for a, b in zip(with_log.answers, without.answers, strict=True):
        question = next(q for q in spec.questions if q.id == a.question_id)
        if is_cleaning_question(question):
            assert "issue log" in a.analysis and a.rows != b.rows  # the clean tables hold no mess
        else:
            assert a.rows == b.rows  # the analytical questions stay on the clean tables
    assert not with_log.notes


@pytest.mark.slow  # Great Expectations takes most of a minute to import on a busy machine
@pytest.mark.parametrize("domain", BLUEPRINTS)
def test_quality_tells_planted_mess_from_defects(domain):
    from tasks.quality import run_quality

    spec = with_messiness(_spec(domain), "heavy")
    messy, log = apply_messiness(spec, generate_dataset(spec))
    report = run_quality(spec, messy, issue_log=log)
    planted = [f for c in report.categories for f in c.planted]
    assert report.verdict == "pass", [f.message for c in report.categories for f in c.findings]
    assert planted and report.unplanned_defects == 0


def test_readme_says_the_data_is_messy(retail_heavy):
    from tasks.reports.readme import render_readme

    spec, clean, messy, _ = retail_heavy
    shipped = {name: len(frame) for name, frame in messy.items()}
    learner = render_readme(spec, learner=True, files=[], row_counts=shipped)
    assert "THE DATA IS DELIBERATELY MESSY" in learner
    assert f"orders: {len(clean['orders']):,} rows (shipped with {shipped['orders']:,})" in learner
    assert "issue_log" not in learner and "ship_region" not in learner.split("THE DATA IS")[1].split("WHAT IS")[0]
    full = render_readme(spec, learner=False, files=[], row_counts=shipped)
    assert "instructor/clean_data/" in full and "instructor/issue_log.csv" in full


def test_messiness_task_keeps_a_clean_copy(tmp_path):
    from tasks.engine.output import generate_to_files
    from tasks.phases import messiness_task

    spec = with_messiness(_spec("hospitality", 300), "light")
    files = generate_to_files(spec, tmp_path)
    files = messiness_task.fn(spec, files, tmp_path)
    assert files.issue_log and (tmp_path / "instructor" / "issue_log.csv").is_file()
    for name in {r.table for r in spec.messiness}:
        clean_csv = tmp_path / "instructor" / "clean_data" / f"{name}.csv"
        clean_rows = clean_csv.read_text().count("\n") - 1
        assert clean_rows == files.row_counts[name]
        messy_rows = Path(files.csv[name]).read_text().count("\n") - 1
        assert messy_rows >= clean_rows


# --------------------------------------------------------------------------- the whole run


@pytest.mark.slow
def test_a_data_cleaning_brief_gives_a_messy_package(tmp_path):
    from openpyxl import load_workbook
    from prefect.testing.utilities import prefect_test_harness

    from flows.challenge import challenge_flow
    from tasks.engine.messiness import read_issue_log

    with prefect_test_harness(server_startup_timeout=180):
        result = challenge_flow(
            brief="A data-cleaning exercise: an online store is losing customers in the West",
            domain="retail_ecommerce",
            rows=600,
            seed=11,
            approval="auto",
            output_dir=str(tmp_path),
        )
    assert result.status == "completed" and result.quality_verdict == "pass"
    with zipfile.ZipFile(result.package) as package:
        names = package.namelist()
        readme = package.read("README.txt").decode()
        log_path = tmp_path / "issue_log.csv"
        log_path.write_bytes(package.read("instructor/issue_log.csv"))
        workbook = load_workbook(io.BytesIO(package.read("analytical_answers.xlsx")), read_only=True)
    assert "THE DATA IS DELIBERATELY MESSY" in readme
    assert any(n.startswith("instructor/clean_data/") for n in names)
    log = read_issue_log(log_path)
    duplicates = sum(e.kind == "duplicates" and e.table == "orders" for e in log)
    assert duplicates > 0
    cells = [str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any("Data cleaning: how many rows of orders" in c for c in cells)
    assert any(f"{duplicates} planted duplicate row" in c for c in cells)
    with zipfile.ZipFile(result.learner_package) as learner:
        assert not any(n.startswith("instructor/") for n in learner.namelist())
