"""Run the 8-category quality validation on a dataset and build the ``QualityReport``.

Stages: tables -> Arrow typed from the spec (text where values do not parse) -> one sandboxed
DuckDB -> spec-derived checks -> metrics -> GX suites decide -> findings, each either explained by
the issue log (planted) or an unplanned defect. Every issue-log entry is also looked up in the data:
a planted issue that is not there is a defect of its own.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from schemas.quality import CATEGORIES, CategoryResult, Finding, IssueLogEntry, PlantedCheck, QualityReport
from schemas.spec import ChallengeSpec
from tasks.engine.messiness import format_values, row_keys, to_arrow_lenient
from tasks.quality.categories.story import is_story
from tasks.quality.checks import Check, Measured
from tasks.quality.gx_suites import preload_gx, validate_with_gx
from tasks.quality.measure import MeasureContext, add_examples, measure_checks
from tasks.quality.suites import Schema, build_checks
from tasks.settings import get_settings
from tasks.sql_sandbox import sandbox

ENGINE = "great_expectations 1.x (suites on DuckDB-computed metrics)"


def run_quality(
    spec: ChallengeSpec,
    tables: Mapping[str, pd.DataFrame],
    *,
    issue_log: list[IssueLogEntry] | None = None,
    data_docs_dir: Path | None = None,
    forked: bool = False,
    gx: bool = True,
) -> QualityReport:
    """Validate ``tables`` against ``spec`` in the 8 categories.

    Args:
        spec: the challenge spec the data was generated from.
        tables: table name -> DataFrame (engine dtypes, or text where messiness made it text).
        issue_log: planted messiness; failures it explains are reported as planted.
        data_docs_dir: build the GX data docs (HTML) into this folder.
        forked: run Great Expectations in a forked process, which renders the docs after sending its
            verdicts; ``tasks.quality.gx_suites.wait_for_data_docs(data_docs_dir)`` waits for them.
        gx: decide with the GX suites (the product). False applies each check's own rule
            (``Check.passes``, the rule GX applies) without GX: the same verdicts in a fraction of the
            time, for audits over hundreds of packages; no data docs then.

    Returns:
        The report: per category pass/fail, score, counts and findings; verdict ``fail`` when
        there is an unplanned defect or a logged planted issue missing from the data.
    """
    started = time.perf_counter()
    gx_import = preload_gx() if gx else None
    issue_log = issue_log or []
    known = {t.name for t in spec.tables}
    frames = {name: frame for name, frame in tables.items() if name in known}
    arrow = {name: to_arrow_lenient(frame, spec.table(name)) for name, frame in frames.items()}
    con = sandbox(arrow)
    ctx: MeasureContext | None = None
    try:
        types: dict[str, dict[str, str]] = defaultdict(dict)
        for table, column, data_type in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
        ).fetchall():
            types[table][column] = data_type
        rows = {name: len(frame) for name, frame in frames.items()}
        schema = Schema(spec, dict(types), rows)
        checks = build_checks(spec, schema.types, rows)
        ctx = MeasureContext(con, frames, schema)
        ctx.start_questions(list(spec.questions))
        measured, seconds = measure_checks(checks, ctx)
        gx_started = time.perf_counter()
        if gx_import is not None:
            gx_import.join()
            success = validate_with_gx(checks, measured, data_docs_dir, forked=forked)
        else:
            success = {check.id: check.passes(measured[check.id].observed) for check in checks}
        gx_seconds = time.perf_counter() - gx_started
        for check in checks:
            if not success.get(check.id, False):
                measured[check.id] = add_examples(check, measured[check.id], ctx)
        present = _planted_present(spec, frames, issue_log)
    finally:
        if ctx is not None:
            ctx.close()
        con.close()
    report = build_report(
        checks, measured, success, issue_log, present, seconds, gx_seconds, blocks_on_story=story_blocks(spec, rows)
    )
    if not gx:
        report.engine = "basic (each check's own rule, GX not run)"
    elif data_docs_dir is not None:  # rendered by now, or being rendered in the background
        report.data_docs = str(data_docs_dir / "index.html")
    report.seconds = round(time.perf_counter() - started, 3)
    return report


# --------------------------------------------------------------------------- planted vs unplanned


def _planted_present(
    spec: ChallengeSpec, frames: Mapping[str, pd.DataFrame], log: list[IssueLogEntry]
) -> dict[int, bool]:
    """Entry index -> whether the data holds the logged new value at the logged row."""
    present: dict[int, bool] = {}
    by_table: dict[str, list[int]] = defaultdict(list)
    for i, entry in enumerate(log):
        by_table[entry.table].append(i)
    for table_name, indexes in by_table.items():
        if table_name not in frames:
            present.update({i: False for i in indexes})
            continue
        table, frame = spec.table(table_name), frames[table_name]
        keys = row_keys(frame, table)
        key_counts = keys.value_counts()
        texts: dict[str, pd.Series] = {}
        for i in indexes:
            entry = log[i]
            if entry.kind == "duplicates":
                present[i] = int(key_counts.get(entry.row_key, 0)) >= 2
                continue
            if entry.column not in frame.columns:
                present[i] = False
                continue
            if entry.column not in texts:
                column = table.column(entry.column)
                texts[entry.column] = pd.Series(
                    format_values(frame[entry.column], column.type if column else "string").to_numpy(),
                    index=keys.to_numpy(),
                )
            cell = texts[entry.column].get(entry.row_key)
            values = [] if cell is None else ([cell] if isinstance(cell, str) else list(cell))
            present[i] = entry.new_value in values
    return present


def _explains(check: Check, entries: list[IssueLogEntry], measured: Measured) -> bool:
    """Whether planted messiness accounts for a failed check."""
    matching = [
        e
        for e in entries
        if any(
            e.table == table and (e.column is None or column is None or e.column == column)
            for table, column in check.inputs
        )
    ]
    if not matching:
        return False
    single = [c for c in check.inputs if c[1] is not None]
    if check.kind == "rows" and len(check.inputs) == 1 and len(single) == 1:
        # a row-level rule on one column: the planted cells must account for every unexpected row
        same_column = [e for e in matching if e.column == single[0][1]]
        if same_column and len(same_column) == len(matching):
            return measured.unexpected <= len(same_column)
    return True


def story_blocks(spec: ChallengeSpec, rows: Mapping[str, int]) -> bool:
    """Do story-check defects fail the verdict? ``DATAFACTORY_STORY_GATE``: block, report, or auto (block once the
    largest fact table has ``DATAFACTORY_STORY_MIN_ROWS`` rows; 300 rows cannot show a 25% fill-rate dip)."""
    settings = get_settings()
    if settings.story_gate != "auto":
        return settings.story_gate == "block"
    facts = [rows.get(t.name, 0) for t in spec.tables if t.role == "fact"] or list(rows.values()) or [0]
    return max(facts) >= settings.story_min_rows


def build_report(
    checks: list[Check],
    measured: dict[str, Measured],
    success: dict[str, bool],
    issue_log: list[IssueLogEntry],
    present: dict[int, bool],
    seconds: dict[str, float],
    gx_seconds: float,
    *,
    blocks_on_story: bool,
) -> QualityReport:
    """Turn metrics and GX verdicts into the report (planted findings apart from unplanned defects).

    Story-check defects fail the verdict when ``blocks_on_story`` (see ``story_blocks()``); otherwise they are
    reported (in their category, in ``story_defects`` and the PDF) without stopping the run.
    """
    present_entries = [e for i, e in enumerate(issue_log) if present.get(i, False)]
    groups: dict[tuple[str, str | None, str], list[int]] = defaultdict(list)
    for i, entry in enumerate(issue_log):
        groups[(entry.table, entry.column, entry.kind)].append(i)
    detected: dict[tuple[str, str | None, str], list[str]] = defaultdict(list)
    categories = []
    total_checks = max(len(checks), 1)
    for category in CATEGORIES:
        mine = [c for c in checks if c.category == category]
        findings, planted = [], []
        for check in mine:
            if success.get(check.id, False):
                continue
            m = measured[check.id]
            is_planted = _explains(check, present_entries, m)
            finding = Finding(
                category=category,
                expectation=check.expectation,
                table=check.table,
                column=check.column,
                message=_message(check, m),
                unexpected_count=int(m.unexpected),
                examples=[str(x) for x in m.examples],
                planted=is_planted,
                check_id=check.id,
                observed=_fmt(m.observed),
                expected=check.expected,
                fix=check.fix,
                story=is_story(check.rule),
            )
            (planted if is_planted else findings).append(finding)
            if is_planted:
                for key in groups:
                    if any(key[0] == t and (key[1] is None or c is None or key[1] == c) for t, c in check.inputs):
                        detected[key].append(check.id)
        failed = len(findings) + len(planted)
        evaluated = len(mine)
        categories.append(
            CategoryResult(
                category=category,
                passed=not [f for f in findings if blocks_on_story or not f.story],
                score=round(100.0 * (evaluated - failed) / evaluated, 1) if evaluated else 100.0,
                evaluated=evaluated,
                failed=failed,
                findings=findings,
                planted=planted,
                # GX validates all suites in one checkpoint run: its time is shared by check count
                seconds=round(seconds.get(category, 0.0) + gx_seconds * evaluated / total_checks, 3),
            )
        )
    planted_checks, missing, undetected = [], [], []
    for key, indexes in groups.items():
        table, column, kind = key
        n_present = sum(present.get(i, False) for i in indexes)
        where = f"{table}.{column}" if column else table
        planted_checks.append(
            PlantedCheck(
                table=table,
                column=column,
                kind=kind,
                entries=len(indexes),
                present=n_present,
                detected_by=sorted(set(detected.get(key, []))),
            )
        )
        if n_present < len(indexes):
            first = next(issue_log[i] for i in indexes if not present.get(i, False))
            missing.append(
                f"{kind} in {where}: {len(indexes) - n_present} of {len(indexes)} logged cases are not in the data "
                f"(e.g. row {first.row_key} should hold {first.new_value!r})"
            )
        elif not detected.get(key):
            undetected.append(f"{kind} in {where}: {len(indexes)} cases, present, flagged by no rule")
    unplanned = sum(len(c.findings) for c in categories)
    blocking = sum(1 for c in categories for f in c.findings if blocks_on_story or not f.story)
    return QualityReport(
        categories=categories,
        verdict="fail" if blocking or missing else "pass",
        unplanned_defects=unplanned,
        story_defects=sum(f.story for c in categories for f in c.findings),
        story_gate="block" if blocks_on_story else "report",
        planted_found=sum(len(c.planted) for c in categories),
        planted_missing=missing,
        engine=ENGINE,
        planted_checks=planted_checks,
        planted_undetected=undetected,
    )


def _message(check: Check, m: Measured) -> str:
    """What is wrong (the rule, observed vs expected), where (story checks: the first case) and how to fix it."""
    text = f"{check.description}: observed {_fmt(m.observed)}, expected {check.expected}"
    if is_story(check.rule) and m.examples:
        text += f" ({m.examples[0]}{'; ...' if len(m.examples) > 1 else ''})"
    return text + (f". Fix: {check.fix}" if check.fix else "")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
