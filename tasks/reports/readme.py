"""README.txt of a package: the problem, the questions, the tables, the files, and how to load the data.

Derived from the spec alone (plus row counts and the package's file list). The learner's README
never shows answers, SQL solutions, planted scenarios or data issues; the full README adds an
instructor section. Files that were not produced are listed with the reason.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from schemas.spec import ChallengeSpec
from tasks.ddl import mysql_database_name

WIDTH = 100
EXCEL_MAX_ROWS = 1_048_575  # a worksheet holds 1,048,576 rows, one of them the header


def render_readme(
    spec: ChallengeSpec,
    *,
    learner: bool,
    files: Iterable[tuple[str, str]],
    not_produced: dict[str, str] | None = None,
    row_counts: dict[str, int] | None = None,
) -> str:
    """The text of ``README.txt``.

    Args:
        spec: the challenge spec.
        learner: True for the learner package (no answers, no instructor section).
        files: (archive name, what it is) for every file in the package, in display order.
        not_produced: archive name -> why the file is missing from the package.
        row_counts: table name -> rows in its CSV.

    Returns:
        Plain text, ending in a newline.
    """
    c = spec.challenge
    row_counts = row_counts or {}
    out: list[str] = [c.title.upper(), "=" * min(WIDTH, len(c.title)), ""]
    out += [f"Company:      {c.company.name}"]
    out += _wrap(c.company.profile, "              ") if c.company.profile else []
    if c.stakeholder:
        out.append(f"Stakeholder:  {c.stakeholder}")
    out += [
        f"Period:       {c.time_window.start} to {c.time_window.end}",
        f"Difficulty:   {c.difficulty}",
        f"Tools:        {', '.join(c.target_tools)}",
        f"Currency:     {c.currency}",
        "",
        _heading("THE PROBLEM"),
        *_wrap(c.problem_statement),
        "",
        _heading("THE QUESTIONS"),
    ]
    for i, q in enumerate(spec.questions, 1):
        skills = f"; skills: {', '.join(s.replace('_', ' ') for s in q.skills)}" if q.skills else ""
        out += _wrap(f"{i}. {q.text}", "", "   ")
        out.append(f"   ({q.difficulty}{skills})")
    if not spec.questions:
        out.append("No questions were set for this challenge.")
    if spec.questions:
        out += ["", _heading("WHAT TO DELIVER"), *_deliverable(spec)]
    out += ["", _heading("THE TABLES")]
    for table in spec.tables:
        rows = f", {row_counts[table.name]:,} rows" if table.name in row_counts else ""
        out.append(f"{table.name}.csv ({table.role}{rows})")
        if table.description:
            out += _wrap(table.description, "  ")
        out += _wrap(f"Columns: {', '.join(table.column_names)}", "  ", "           ")
        if table.primary_key:
            out.append(f"  Key: {', '.join(table.primary_key)}")
    if spec.relationships:
        out += ["", "Relationships (many child rows -> one parent row):"]
        out += [f"  {r.child_table}.{r.child_column} -> {r.parent_table}.{r.parent_column}" for r in spec.relationships]
    out += ["", "Every column (type, unit, meaning, keys, allowed values, range) is described in data_dictionary.txt."]
    if spec.messiness:
        out += ["", _heading("THE DATA IS DELIBERATELY MESSY"), *_messy(spec, row_counts)]
    out += ["", _heading("WHAT IS IN THIS PACKAGE")]
    for name, what in files:
        # the description wraps in its own column, never cut
        parts = textwrap.wrap(" ".join(what.split()), WIDTH - 37) or [""]
        out.append(f"  {name:<34} {parts[0]}".rstrip())
        out += [" " * 37 + part for part in parts[1:]]
    if not_produced:
        out += ["", "Not produced in this run:"]
        for name, reason in not_produced.items():
            out += _wrap(f"{name}: {reason}", "  ", "    ")
    out += ["", _heading("HOW TO LOAD THE DATA"), *_loading(spec, row_counts)]
    if not learner:
        out += ["", _heading("INSTRUCTOR NOTES (not in the learner package)"), *_instructor(spec)]
    return "\n".join(out).rstrip() + "\n"


def _loading(spec: ChallengeSpec, row_counts: dict[str, int]) -> list[str]:
    database = mysql_database_name(spec)
    example = _example_table(spec)
    dates = [c.name for c in example.columns if c.type in {"date", "datetime"}][:3]
    parse = f", parse_dates={dates}" if dates else ""
    big = [name for name, rows in row_counts.items() if rows > EXCEL_MAX_ROWS]
    lines = [
        "Unzip the package into a folder and open a terminal in that folder: the SQL scripts read the CSVs",
        "from the folder they are run in. Each script drops tables of the same names first, creates the",
        "tables with their primary and foreign keys (parents first), then loads the CSVs.",
        "",
        "PostgreSQL (psql 11 or later):",
        "  createdb challenge",
        "  psql -d challenge -f sql/postgresql.sql",
        "  (\\copy reads the CSVs on your computer, so this also works with a remote server:",
        "   add -h HOST -U USER. The load runs in one transaction and stops at the first error.)",
        "",
        "MySQL 8:",
        "  mysql --local-infile=1 -u USER -p < sql/mysql.sql",
        f"  The script creates and uses the database `{database}`. The server must allow local files:",
        "  SET GLOBAL local_infile = 1; (as an administrator) if it reports 'Loading local data is disabled'.",
        "",
        "DuckDB:",
        "  duckdb challenge.duckdb < sql/duckdb.sql",
        f"  (or query the CSVs directly: SELECT * FROM '{example.name}.csv' LIMIT 10;)",
        "",
        "Excel:",
        "  Data > Get Data > From File > From Text/CSV, pick a table's CSV, set File Origin to",
        "  '65001: Unicode (UTF-8)' and Delimiter to Comma, then Load. To analyse several tables together,",
        "  choose Load To... > 'Add this data to the Data Model' for each CSV and join them in",
        "  Data > Relationships (or Power Pivot) using the relationships listed above.",
    ]
    if big:
        lines += [
            f"  {', '.join(big)} {'has' if len(big) == 1 else 'have'} more rows than a worksheet holds (1,048,576):",
            "  load them into the Data Model only, not to a sheet.",
        ]
    lines += [
        "",
        "Power BI Desktop:",
        "  Home > Get data > Text/CSV for each table (or Get data > Folder for all of them), check in",
        "  Transform data that dates are Date, amounts are Decimal or Fixed decimal, then Close & Apply.",
        "  In Model view, create these relationships (many-to-one, single direction):",
    ]
    lines += [
        f"    {r.child_table}[{r.child_column}] -> {r.parent_table}[{r.parent_column}]" for r in spec.relationships
    ]
    if not spec.relationships:
        lines.append("    (none: the tables are independent)")
    lines += [
        "",
        "Python (pandas):",
        "  import pandas as pd",
        f"  {example.name} = pd.read_csv('{example.name}.csv'{parse})",
        "  (the date columns of every table are listed in data_dictionary.txt)",
    ]
    return lines


def _example_table(spec: ChallengeSpec):
    """The table the loading examples name: the first fact table (the one most questions read), else the first."""
    return next((t for t in spec.tables if t.role == "fact"), spec.tables[0])


# what a learner hands in per answer shape and chart hint
_FORM = {
    "scalar": "a single figure",
    "time_series": "a table by period, in time order",
    "table": "a table",
}
_CHART_WORDS = {
    "bar": "a bar chart",
    "column": "a column chart",
    "line": "a line chart",
    "area": "an area chart",
    "pie": "a pie or 100% bar chart",
    "scatter": "a scatter plot",
}


def _deliverable(spec: ChallengeSpec) -> list[str]:
    """The expected form of each answer (from the question's shape, chart hint and result columns) and a dashboard."""
    lines = _wrap(
        "Answer every question with the figure or table it asks for, a chart where one is suggested, and one or "
        "two sentences saying what it shows (the leader, the change and its size, the period). Expected form:"
    )
    for i, q in enumerate(spec.questions, 1):
        columns = _result_columns(q.sql)
        form = _FORM.get(q.answer_shape, "a table")
        if columns and q.answer_shape != "scalar":
            form += " with the columns " + ", ".join(columns)
        elif columns:
            form += f" ({', '.join(columns)})"
        chart = _CHART_WORDS.get(q.chart)
        lines += _wrap(f"{i}. {form}" + (f"; {chart}" if chart else "") + ".", "  ", "     ")
    categories = [
        c.name for t in spec.tables if t.role == "dimension" for c in t.columns if c.type == "category" and not c.unique
    ][:4]
    trends = [i for i, q in enumerate(spec.questions, 1) if q.answer_shape == "time_series" or q.chart == "line"]
    dashboard = (
        "Then build a one-page dashboard for the stakeholder: headline figures (KPI cards) on top"
        + (
            f", the trend of question{'s' if len(trends) > 1 else ''} {', '.join(map(str, trends[:3]))}"
            if trends
            else ""
        )
        + ", the charts of the other questions below"
        + (f", and filters (slicers) by {', '.join(categories)}" if categories else "")
        + ". End with three recommendations the numbers support."
    )
    return lines + [""] + _wrap(dashboard)


def _result_columns(sql: str) -> list[str]:
    """The column names a question's result has (its outer SELECT), read from the SQL without running it."""
    import sqlglot  # local: only the README needs it here

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return []
    while isinstance(tree, sqlglot.exp.SetOperation):
        tree = tree.this
    if not isinstance(tree, sqlglot.exp.Select):
        return []
    names = [projection.alias_or_name for projection in tree.expressions]
    return [n for n in names if n and n != "*"]


def _instructor(spec: ChallengeSpec) -> list[str]:
    lines = [
        "The answer key (every question's SQL and result) is in analytical_answers.xlsx, the data quality",
        "results in quality_report.pdf, the full specification (generators, SQL solutions, scenarios) in",
        "challenge.yaml, and the SDV metadata of the schema in metadata.json.",
    ]
    if spec.scenarios:
        lines += ["", "Planted scenarios (what the data is built to reveal):"]
        for s in spec.scenarios:
            lines += _wrap(f"- {s.name}: {s.description}", "  ", "    ")
    if spec.messiness:
        lines += ["", "Planted data issues (each case is listed in instructor/issue_log.csv when produced):"]
        for rule in spec.messiness:
            where = f"{rule.table}.{rule.column}" if rule.column else rule.table
            lines.append(f"  - {rule.kind} in {where}, about {rule.rate:.0%} of rows")
        lines += [
            "",
            *_wrap(
                "The cleaning questions (data cleaning skill) are answered from instructor/issue_log.csv. The other "
                "questions are answered on the clean tables: instructor/clean_data/ holds the clean copy of every "
                "table that has planted issues (the other CSVs are already clean)."
            ),
        ]
    return lines


# what a learner is told each kind looks like (the learner never sees where or how often)
_MESS_WORDS = {
    "duplicates": "duplicate rows",
    "casing": "inconsistent upper and lower case",
    "whitespace": "stray spaces before or after values",
    "typos": "misspelt values",
    "missing": "missing values",
    "outliers": "implausible outliers",
    "date_formats": "dates written in mixed formats",
}


def _messy(spec: ChallengeSpec, row_counts: dict[str, int]) -> list[str]:
    """What a learner must clean and what a clean result looks like (rows per table once duplicates go)."""
    from tasks.messiness_plan import rows_after_cleaning

    kinds = [_MESS_WORDS[k] for k in _MESS_WORDS if any(r.kind == k for r in spec.messiness)]
    tables = sorted({r.table for r in spec.messiness}, key=spec.table_names.index)
    clean = rows_after_cleaning(spec, row_counts)
    lines = _wrap(
        "This is a data-cleaning challenge: the CSVs of "
        + ", ".join(tables)
        + " hold planted problems ("
        + ", ".join(kinds)
        + "). The questions marked 'data cleaning' ask what you find; clean the data before the other questions, "
        "whose answers are computed on the clean tables."
    )
    if row_counts:
        lines += ["", "A clean result has these row counts (the other tables are clean as shipped):"]
        for name in tables:
            if name in row_counts:
                change = "" if clean[name] == row_counts[name] else f" (shipped with {row_counts[name]:,})"
                lines.append(f"  {name}: {clean[name]:,} rows{change}")
    lines += [""] + _wrap(
        "Duplicates, stray spaces, casing, typos and date formats can be undone exactly; a value that is missing "
        "or an outlier cannot be recovered, so figures that use those rows may differ a little from the key."
    )
    return lines


def _heading(text: str) -> str:
    return f"{text}\n{'-' * len(text)}"


def _wrap(text: str, first: str = "", rest: str | None = None) -> list[str]:
    text = " ".join(text.split())
    if not text:
        return []
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest if rest is not None else first)
