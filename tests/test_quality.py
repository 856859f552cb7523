"""The 8 quality categories: clean data passes, one planted defect fails exactly its category.

Each mutation injects one defect of one kind into clean generated data and checks that its
category fails, names the table, the column and an example, and that the other 7 still pass.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pytest

from schemas.quality import CATEGORIES
from schemas.serialize import spec_to_yaml
from schemas.spec import MessinessRule
from tasks.domains import load_blueprint
from tasks.engine import generate_dataset
from tasks.engine.messiness import apply_messiness, issue_log_to_csv, to_arrow_lenient
from tasks.quality import gx_suites, render_report_table, run_quality, validate_package
from tasks.quality.gx_suites import wait_for_data_docs

RETAIL = Path(__file__).absolute().parent.parent / "domains" / "retail_ecommerce.yaml"


@pytest.fixture(scope="module")
def spec():
    return load_blueprint(RETAIL).spec.model_copy(update={"scale": 2000})


@pytest.fixture(scope="module")
def clean(spec):
    return generate_dataset(spec)


@pytest.fixture(scope="module")
def clean_report(spec, clean):
    return run_quality(spec, clean)


def _copy(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in tables.items()}


# --------------------------------------------------------------------------- mutations: one defect each


def orphan_child(t):
    """A return whose order does not exist."""
    t["returns"].loc[3, "order_id"] = "ORD-9999999"
    return "returns", "order_id", "ORD-9999999"


def duplicated_key(t):
    """A customer without orders replaced by a copy of another customer: its id appears twice."""
    customers, ordered = t["customers"], set(t["orders"]["customer_id"])
    idle = customers.index[~customers["customer_id"].isin(ordered)][0]
    source = 0 if idle != 0 else 1
    customers.loc[idle] = customers.loc[source]
    return "customers", "customer_id", customers.loc[source, "customer_id"]


def null_not_allowed(t):
    t["orders"].loc[7, "channel"] = None
    return "orders", "channel", t["orders"].loc[7, "order_id"]


def out_of_range(t):
    """A payment method the spec does not list; nothing derives from it, so only validity breaks."""
    orders = t["orders"]
    orders.loc[5, "payment_method"] = "Barter"
    return "orders", "payment_method", "payment_method=Barter"


def end_before_start(t):
    orders, returned = t["orders"], set(t["returns"]["order_id"])
    i = orders.index[(orders["status"] == "Delivered") & ~orders["order_id"].isin(returned)][0]
    orders.loc[i, "delivery_date"] = orders.loc[i, "ship_date"] - pd.Timedelta(days=3)
    return "orders", "delivery_date", orders.loc[i, "order_id"]


def shifted_distribution(t):
    """A third of the orders paid by gift card (the spec says 5 %): still valid values, a wrong mix."""
    orders = t["orders"]
    rows = np.arange(0, len(orders), 3)
    orders.loc[rows, "payment_method"] = "Gift Card"
    return "orders", "payment_method", "Gift Card"


def missing_month(t):
    """Every order of March 2023 removed, with its lines and returns, so keys still hold."""
    orders = t["orders"]
    march = orders["order_date"].dt.strftime("%Y-%m") == "2023-03"
    gone = set(orders.loc[march, "order_id"])
    t["orders"] = orders[~march].reset_index(drop=True)
    t["order_items"] = t["order_items"][~t["order_items"]["order_id"].isin(gone)].reset_index(drop=True)
    t["returns"] = t["returns"][~t["returns"]["order_id"].isin(gone)].reset_index(drop=True)
    return "orders", "order_date", "2023-03"


def wrong_type(t):
    fee = t["orders"]["shipping_fee"].astype(object)
    fee.iloc[11] = "4.99 USD"
    t["orders"]["shipping_fee"] = fee
    return "orders", "shipping_fee", "4.99 USD"


MUTATIONS: list[tuple[str, Callable]] = [
    ("referential_integrity", orphan_child),
    ("uniqueness", duplicated_key),
    ("completeness", null_not_allowed),
    ("validity", out_of_range),
    ("consistency", end_before_start),
    ("distribution", shifted_distribution),
    ("coverage", missing_month),
    ("schema_conformity", wrong_type),
]


def test_clean_generated_data_passes_all_eight_categories(clean_report) -> None:
    """Generated data follows its own spec; any failure here is a false alarm a user would chase."""
    failing = {c.category: [f.message for f in c.findings] for c in clean_report.categories if not c.passed}
    assert failing == {}
    assert clean_report.verdict == "pass"
    assert [c.category for c in clean_report.categories] == list(CATEGORIES)
    assert all(c.evaluated > 0 for c in clean_report.categories)
    assert clean_report.engine.startswith("great_expectations")


def _failing(report) -> set[str]:
    return {f.check_id for c in report.categories for f in [*c.findings, *c.planted]}


def test_each_checks_own_rule_gives_the_verdicts_of_gx(spec, clean, clean_report) -> None:
    """``run_quality(gx=False)`` (the audit's fast path) fails exactly the checks the GX suites fail."""
    tables = _copy(clean)
    out_of_range(tables)
    orphan_child(tables)
    with_gx, without = run_quality(spec, tables), run_quality(spec, tables, gx=False)
    assert _failing(with_gx) and _failing(with_gx) == _failing(without)
    assert without.verdict == with_gx.verdict == "fail"
    assert _failing(run_quality(spec, clean, gx=False)) == _failing(clean_report) == set()


@pytest.mark.parametrize("category, mutate", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_one_defect_fails_its_category_only(spec, clean, category, mutate) -> None:
    """A defect must be reported where it belongs, located, with an example, and nowhere else."""
    # Setup
    tables = _copy(clean)
    table, column, example = mutate(tables)
    # Run
    report = run_quality(spec, tables)
    # Assert
    result = report.category(category)
    assert not result.passed, f"{category} did not notice the defect"
    located = [f for f in result.findings if f.table == table and f.column == column]
    assert located, [f"{f.table}.{f.column}: {f.message}" for f in result.findings]
    assert any(example in x for f in located for x in f.examples), [f.examples for f in located]
    others = {c.category: [f.message for f in c.findings] for c in report.categories if c.category != category}
    assert {k: v for k, v in others.items() if v} == {}
    assert report.verdict == "fail" and report.unplanned_defects >= 1


# --------------------------------------------------------------------------- planted messiness

RULES = [
    MessinessRule(kind="duplicates", table="orders", rate=0.01),
    MessinessRule(kind="casing", table="customers", column="city", rate=0.03),
    MessinessRule(kind="whitespace", table="customers", column="first_name", rate=0.02),
    MessinessRule(kind="typos", table="products", column="brand", rate=0.05),
    MessinessRule(kind="missing", table="orders", column="payment_method", rate=0.02),
    MessinessRule(kind="outliers", table="order_items", column="quantity", rate=0.01),
    MessinessRule(kind="date_formats", table="customers", column="signup_date", rate=0.03),
]


@pytest.fixture(scope="module")
def messy(spec, clean):
    messy_spec = spec.model_copy(update={"messiness": RULES})
    tables, log = apply_messiness(messy_spec, clean)
    return messy_spec, tables, log


def test_planted_messiness_is_reported_as_planted_not_as_failure(messy) -> None:
    """A data-cleaning challenge is messy on purpose: its report must pass and list what was planted."""
    messy_spec, tables, log = messy
    report = run_quality(messy_spec, tables, issue_log=log)
    unplanned = [f"{f.check_id}: {f.message}" for c in report.categories for f in c.findings]
    assert unplanned == []
    assert report.verdict == "pass"
    assert report.planted_missing == []
    flagged = {(p.table, p.column, p.kind) for p in report.planted_checks if p.detected_by}
    for rule in RULES:
        assert (rule.table, rule.column, rule.kind) in flagged, rule
    assert report.category("validity").planted and report.category("uniqueness").planted


def test_same_mess_without_its_log_is_a_set_of_unplanned_defects(messy) -> None:
    """Without the issue log nothing explains the mess: the report must fail."""
    messy_spec, tables, _ = messy
    report = run_quality(messy_spec, tables)
    assert report.verdict == "fail"
    assert not report.category("uniqueness").passed and not report.category("validity").passed


def test_logged_issue_missing_from_the_data_is_a_finding(messy, clean) -> None:
    """An answer key that lists a problem the learner cannot find is itself a defect."""
    messy_spec, tables, log = messy
    tables = _copy(tables)
    entry = next(e for e in log if e.kind == "typos")
    brands = tables["products"]
    brands.loc[brands["product_id"] == entry.row_key, "brand"] = entry.original_value
    report = run_quality(messy_spec, tables, issue_log=log)
    assert report.verdict == "fail"
    assert any(entry.row_key in m and "products.brand" in m for m in report.planted_missing)


# --------------------------------------------------------------------------- packages, docs, rendering


def _write_package(folder: Path, spec, tables, log) -> Path:
    folder.mkdir(parents=True)
    (folder / "challenge.yaml").write_text(spec_to_yaml(spec))
    for name, frame in tables.items():
        pacsv.write_csv(to_arrow_lenient(frame, spec.table(name)), folder / f"{name}.csv")
    if log is not None:
        issue_log_to_csv(log, folder / "instructor" / "issue_log.csv")
    return folder


def test_validate_package_reads_a_zip_types_csvs_from_the_spec_and_uses_its_issue_log(messy, tmp_path) -> None:
    """The CLI validates what learners download: CSVs typed from the spec, messy text kept as text."""
    messy_spec, tables, log = messy
    folder = _write_package(tmp_path / "pkg", messy_spec, tables, log)
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.rglob("*"):
            zf.write(path, path.relative_to(folder))
    report = validate_package(archive)
    assert report.verdict == "pass", render_report_table(report)
    assert report.planted_missing == []
    assert any(
        f.check_id == "schema_conformity:customers.signup_date:type"
        for f in report.category("schema_conformity").planted
    )


def test_validate_package_folder_reports_a_defect_in_a_csv(spec, clean, tmp_path) -> None:
    """A CSV edited by hand (text in a number column) fails schema conformity, located."""
    folder = _write_package(tmp_path / "pkg", spec, clean, None)
    path = folder / "order_items.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    cells[header.index('"quantity"') if '"quantity"' in header else header.index("quantity")] = "three"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    report = validate_package(folder)
    result = report.category("schema_conformity")
    assert not result.passed
    finding = next(f for f in result.findings if f.column == "quantity")
    assert finding.table == "order_items" and any("three" in x for x in finding.examples)


def test_data_docs_are_built_offline_into_the_given_folder(spec, clean, tmp_path) -> None:
    """The instructor material holds GX data docs: an index and one page per category suite."""
    docs = tmp_path / "docs"
    report = run_quality(spec, {k: v.head(300) for k, v in clean.items()}, data_docs_dir=docs)
    assert report.data_docs == str(docs / "index.html")
    pages = {p.stem for p in (docs / "expectations").glob("*.html")}
    assert set(CATEGORIES) <= pages


def test_gx_in_a_forked_process_gives_the_same_verdicts_and_whole_docs_once_waited_for(spec, clean, tmp_path) -> None:
    """The flow runs GX in a forked process that renders the docs after its verdicts; waiting gives the whole folder."""
    tables = {k: v.head(300) for k, v in clean.items()}
    tables["customers"].loc[3, "email"] = "not-an-email"  # one failing check, so verdicts differ by check
    docs = tmp_path / "docs"
    (docs / "stale").mkdir(parents=True)  # an earlier run's docs are replaced, not mixed in
    report = run_quality(spec, tables, data_docs_dir=docs, forked=True)
    inline = run_quality(spec, tables)
    assert [c.model_dump(exclude={"seconds"}) for c in report.categories] == [
        c.model_dump(exclude={"seconds"}) for c in inline.categories
    ]
    assert report.verdict == "fail"
    assert report.data_docs == str(docs / "index.html")
    assert wait_for_data_docs(docs) == docs
    assert (docs / "index.html").exists() and not (docs / "stale").exists()
    assert set(CATEGORIES) <= {p.stem for p in (docs / "expectations").glob("*.html")}
    assert not list(tmp_path.glob(".docs.*"))  # no staging folder or error file left behind
    assert wait_for_data_docs(docs) == docs  # nothing pending any more: it only looks


def test_failures_in_the_forked_gx_process_are_raised_with_their_cause(spec, clean, tmp_path, monkeypatch) -> None:
    tables = {k: v.head(100) for k, v in clean.items()}

    def broken_docs(context, folder):
        raise ValueError("template exploded")

    monkeypatch.setattr(gx_suites, "_render_docs", broken_docs)  # the fork inherits the patch
    docs = tmp_path / "docs"
    run_quality(spec, tables, data_docs_dir=docs, forked=True)  # the verdicts still arrive
    with pytest.raises(RuntimeError, match="template exploded"):
        wait_for_data_docs(docs)
    assert not docs.exists()

    def broken_suites(checks, measured, docs):
        raise ValueError("suite exploded")

    monkeypatch.setattr(gx_suites, "_run_suites", broken_suites)
    with pytest.raises(RuntimeError, match="suite exploded"):
        run_quality(spec, tables, forked=True)


def test_a_silent_forked_gx_process_is_killed_and_gx_runs_here(spec, clean, tmp_path, monkeypatch, caplog) -> None:
    """An unattended batch never hangs on a forked GX process that stopped answering."""
    import os
    import time

    tables = {k: v.head(100) for k, v in clean.items()}
    parent, run_suites = os.getpid(), gx_suites._run_suites

    def stuck_in_the_child(checks, measured, docs):
        if os.getpid() != parent:
            time.sleep(60)
        return run_suites(checks, measured, docs)

    monkeypatch.setattr(gx_suites, "_run_suites", stuck_in_the_child)
    monkeypatch.setattr(gx_suites, "VERDICT_TIMEOUT_SECONDS", 1.0)
    docs = tmp_path / "docs"
    report = run_quality(spec, tables, data_docs_dir=docs, forked=True)
    assert report.verdict == run_quality(spec, tables).verdict
    assert "no verdict" in caplog.text
    assert wait_for_data_docs(docs) == docs  # rendered here instead


def test_a_forked_gx_process_that_crashes_is_replaced_by_gx_here(spec, clean, tmp_path, monkeypatch, caplog) -> None:
    """A child killed by a signal before its verdict (seen once: exit status -11) does not fail the run."""
    import os
    import signal

    tables = {k: v.head(100) for k, v in clean.items()}
    parent, run_suites = os.getpid(), gx_suites._run_suites

    def crash_in_the_child(checks, measured, docs):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return run_suites(checks, measured, docs)

    monkeypatch.setattr(gx_suites, "_run_suites", crash_in_the_child)
    docs = tmp_path / "docs"
    report = run_quality(spec, tables, data_docs_dir=docs, forked=True)
    assert report.verdict == run_quality(spec, tables).verdict
    assert "before its verdict" in caplog.text
    assert wait_for_data_docs(docs) == docs


def test_render_report_table_lists_every_category_and_the_findings(spec, clean) -> None:
    tables = _copy(clean)
    orphan_child(tables)
    text = render_report_table(run_quality(spec, tables))
    for category in CATEGORIES:
        assert category in text
    assert "verdict: FAIL" in text and "ORD-9999999" in text
