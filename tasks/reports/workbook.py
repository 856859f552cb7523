"""analytical_answers.xlsx: Executive Summary, one sheet per question (question, answer and analysis,
supporting table, native Excel chart of the hinted type over that table), Data Dictionary,
Quality Metrics and Data Samples.

Contract: headers formatted, widths set, number formats from the result's types and units, header
rows frozen. Built from the answer key, profiles, quality report (or its absence, stated as such)
and small samples only. Written to a temporary name, then renamed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, PieChart, Reference, ScatterChart, Series
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RegularTextRun
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from schemas.profiles import DatasetProfile
from schemas.quality import QualityReport
from schemas.results import Answer, AnswerKey
from schemas.spec import ChallengeSpec, ForeignKeyGenerator
from tasks.reports import findings

SUMMARY_SHEET = "Executive Summary"
DICTIONARY_SHEET = "Data Dictionary"
QUALITY_SHEET = "Quality Metrics"
SAMPLES_SHEET = "Data Samples"
NO_QUALITY = "Quality checks have not run for this dataset, so no quality metrics are reported."
TABLE_HEADER_ROW = 6  # on a question sheet: rows 1-4 hold the question, analysis and SQL

HEADER_FILL = PatternFill("solid", fgColor="2F6690")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=14, color="2F6690")
LABEL_FONT = Font(bold=True)
THIN = Side(style="thin", color="C8D3DC")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
MAX_WIDTH = 60


def build_workbook(
    spec: ChallengeSpec,
    answers: AnswerKey,
    profiles: DatasetProfile,
    quality: QualityReport | None,
    samples: dict[str, pd.DataFrame],
    out_path: Path,
) -> Path:
    """Write analytical_answers.xlsx.

    Args:
        spec: the challenge spec.
        answers: the answer key.
        profiles: table profiles (measured null rates and distinct counts for the dictionary).
        quality: the quality report, or None when quality has not run (the sheet says so).
        samples: table name -> a few rows (``tasks.reports.profiles.sample_tables``).
        out_path: where to write the workbook (its folder is created).

    Returns:
        ``out_path``.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY_SHEET
    names = question_sheet_names(answers)
    _summary_sheet(summary, spec, answers, profiles, quality, names)
    for answer in answers.answers:
        _question_sheet(wb.create_sheet(names[answer.question_id]), answer)
    _dictionary_sheet(wb.create_sheet(DICTIONARY_SHEET), spec, profiles)
    _quality_sheet(wb.create_sheet(QUALITY_SHEET), quality)
    _samples_sheet(wb.create_sheet(SAMPLES_SHEET), spec, profiles, samples)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    try:
        wb.save(tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def question_sheet_names(answers: AnswerKey) -> dict[str, str]:
    """Question id -> sheet name: the id upper-cased, Excel-safe (31 characters, no []:*?/\\), unique."""
    names: dict[str, str] = {}
    taken = {SUMMARY_SHEET.lower(), DICTIONARY_SHEET.lower(), QUALITY_SHEET.lower(), SAMPLES_SHEET.lower()}
    for answer in answers.answers:
        base = re.sub(r"[\[\]:*?/\\']", "_", answer.question_id.upper())[:28] or "Q"
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        names[answer.question_id] = name
    return names


# --------------------------------------------------------------------------- cells


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA (a nullable Int64/boolean/string cell): written as an empty cell."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value)) if pd.api.types.is_scalar(value) else False
    except (TypeError, ValueError):
        return False


def _clean(value: Any) -> Any:
    """A value openpyxl can store: missing values empty, no control characters, dates as dates."""
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar -> python
        if _missing(value):
            return None
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _put(ws: Worksheet, row: int, column: int, value: Any, number_format: str | None = None):
    cell = ws.cell(row=row, column=column, value=_clean(value))
    if isinstance(cell.value, str) and cell.value.startswith("="):
        cell.data_type = "s"  # data is text, never a formula
    if number_format:
        cell.number_format = number_format
    return cell


def _header(ws: Worksheet, row: int, names: list[str], start: int = 1) -> None:
    for i, name in enumerate(names):
        cell = _put(ws, row, start + i, name)
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, BORDER
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def _fit_widths(ws: Worksheet, minimum: int = 8, maximum: int = MAX_WIDTH, skip_rows: set[int] | None = None) -> None:
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None or (skip_rows and cell.row in skip_rows):
                continue
            text = cell.value.isoformat()[:10] if isinstance(cell.value, (dt.date, dt.datetime)) else str(cell.value)
            widths[cell.column] = max(widths.get(cell.column, 0), len(text) + 2)
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = max(minimum, min(maximum, width))


def _typed(value: Any, kind: str) -> Any:
    if isinstance(value, str) and kind in {"date", "datetime"}:
        stamp = pd.Timestamp(value)
        return stamp.date() if kind == "date" else stamp.to_pydatetime()
    return value


# --------------------------------------------------------------------------- sheets


def _summary_sheet(ws, spec: ChallengeSpec, answers: AnswerKey, profiles, quality, names: dict[str, str]) -> None:
    c = spec.challenge
    _put(ws, 1, 1, f"{c.title}: analytical answers").font = TITLE_FONT
    facts = [
        ("Company", c.company.name),
        ("Domain", c.domain.replace("_", " ")),
        ("Stakeholder", c.stakeholder or "not stated"),
        ("Time window", f"{c.time_window.start} to {c.time_window.end}"),
        ("Problem statement", c.problem_statement),
        ("Dataset", f"{len(spec.tables)} tables, {profiles.total_rows:,} rows"),
        (
            "Quality",
            NO_QUALITY
            if quality is None
            else f"{quality.verdict}, score {quality.score:.1f}%, {quality.unplanned_defects} unplanned defects",
        ),
        ("Analyses written by", answers.analysis_source),
    ]
    for column, width in zip("ABCDEF", (18, 50, 11, 9, 60, 28), strict=True):
        ws.column_dimensions[column].width = width
    heights: dict[int, list[tuple[str, float]]] = {}
    for i, (label, value) in enumerate(facts, start=3):
        _put(ws, i, 1, label).font = LABEL_FONT
        cell = _put(ws, i, 2, value)
        cell.alignment = WRAP
        ws.merge_cells(start_row=i, start_column=2, end_row=i, end_column=6)
        heights[i] = [(str(value), 50 + 11 + 9 + 60 + 28)]
    row = 3 + len(facts) + 1
    _put(ws, row, 1, "Key findings").font = TITLE_FONT
    for finding in findings.executive_summary(answers):
        row += 1
        link = _put(ws, row, 1, finding.question_id)
        link.font, link.alignment = LABEL_FONT, Alignment(vertical="top")
        _put(ws, row, 2, finding.text).alignment = WRAP
        ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=6)
        heights[row] = [(finding.text, 50 + 11 + 9 + 60 + 28)]
    start = row + 2
    _header(ws, start, ["Question", "Text", "Difficulty", "Rows", "Headline", "Planted finding"])
    for row, answer in enumerate(answers.answers, start=start + 1):
        link = _put(ws, row, 1, answer.question_id)
        link.hyperlink = f"#'{names[answer.question_id]}'!A1"
        link.font = Font(color="0563C1", underline="single")
        _put(ws, row, 2, answer.question).alignment = WRAP
        _put(ws, row, 3, answer.difficulty).alignment = WRAP
        _put(ws, row, 4, answer.row_count, "#,##0").alignment = Alignment(vertical="top")
        headline = answer.error or findings.headline(answer)
        _put(ws, row, 5, headline).alignment = WRAP
        check = answer.scenario_check
        shown = "" if check is None else {True: "shown", False: "not clearly shown", None: "undecided"}[check.shown]
        _put(ws, row, 6, f"{check.scenario}: {shown}" if check else "").alignment = WRAP
        ws.cell(row=row, column=1).alignment = Alignment(vertical="top")
        heights[row] = [(answer.question, 50), (headline, 60), (f"{check.scenario}: {shown}" if check else "", 28)]
    for row, texts in heights.items():
        _fit_row(ws, row, texts)
    ws.freeze_panes = ws.cell(row=start + 1, column=1)
    if answers.notes:
        row = start + len(answers.answers) + 2
        _put(ws, row, 1, "Notes").font = LABEL_FONT
        for i, note in enumerate(answers.notes, start=row + 1):
            _put(ws, i, 1, note).alignment = WRAP
            ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=6)
            _fit_row(ws, i, [(note, 18 + 50 + 11 + 9 + 60 + 28)])
    _print_setup(ws, landscape=True, title_rows=f"{start}:{start}")


def _fit_row(ws: Worksheet, row: int, texts: list[tuple[str, float]], size: float = 11) -> None:
    """A row tall enough for its wrapped texts, each given with the width (in characters) it wraps in."""
    lines = 1
    for text, width in texts:
        per_line = max(8.0, width * 1.1)
        lines = max(lines, sum(max(1, math.ceil(len(part) / per_line)) for part in str(text).split("\n")))
    ws.row_dimensions[row].height = min(409, lines * size * 1.35 + 3)


def _question_sheet(ws: Worksheet, answer: Answer) -> None:
    width = max(len(answer.columns), 6)
    title = _put(ws, 1, 1, f"{answer.question_id.upper()}: {answer.question}")
    title.font, title.alignment = TITLE_FONT, WRAP
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    _put(ws, 2, 1, f"Difficulty: {answer.difficulty} · answer shape: {answer.answer_shape} · chart: {answer.chart}")
    _put(ws, 3, 1, "Answer").font = LABEL_FONT
    text = answer.analysis if not answer.error else f"Not answered: {answer.error}"
    analysis = _put(ws, 3, 2, text)
    analysis.alignment = WRAP
    ws.merge_cells(start_row=3, start_column=2, end_row=3, end_column=width)
    _put(ws, 4, 1, "SQL").font = LABEL_FONT
    sql = _put(ws, 4, 2, answer.sql.strip())
    sql.font, sql.alignment = Font(name="Consolas", size=9), WRAP
    ws.merge_cells(start_row=4, start_column=2, end_row=4, end_column=width)
    for row in (1, 3, 4):
        ws[f"A{row}"].alignment = WRAP if row == 1 else Alignment(vertical="top")
    if answer.error or not answer.columns:
        _fit_text_rows(ws, width, {1: 14, 3: 11, 4: 9})
        _print_setup(ws, landscape=True)
        return
    _header(ws, TABLE_HEADER_ROW, answer.columns)
    kinds = answer.column_types or ["string"] * len(answer.columns)
    units = [answer.units.get(c) for c in answer.columns]
    formats = [findings.excel_format(k, u, c) for c, k, u in zip(answer.columns, kinds, units, strict=True)]
    for r, row in enumerate(answer.rows, start=TABLE_HEADER_ROW + 1):
        for i, value in enumerate(row):
            cell = _put(ws, r, i + 1, findings.excel_value(_typed(value, kinds[i]), units[i]), formats[i])
            cell.border = BORDER
    last = TABLE_HEADER_ROW + len(answer.rows)
    if answer.truncated:
        _put(ws, last + 1, 1, f"First {len(answer.rows)} of {answer.row_count:,} rows.").font = Font(italic=True)
    ws.freeze_panes = ws.cell(row=TABLE_HEADER_ROW + 1, column=1)
    if answer.rows:
        ws.auto_filter.ref = f"A{TABLE_HEADER_ROW}:{get_column_letter(len(answer.columns))}{last}"
    chart = answer_chart(answer, ws, TABLE_HEADER_ROW, last)
    _fit_widths(ws, skip_rows={1, 2, 3, 4})  # after the chart data, so its values fit too
    ws.column_dimensions["A"].width = max(ws.column_dimensions["A"].width or 0, 12)
    if chart is not None:
        ws.add_chart(chart, f"{get_column_letter(len(answer.columns) + 2)}{TABLE_HEADER_ROW}")
    _fit_text_rows(ws, width, {1: 14, 3: 11, 4: 9})
    _print_setup(ws, landscape=True, title_rows=f"{TABLE_HEADER_ROW}:{TABLE_HEADER_ROW}")


CHART_DATA_TITLE = "Chart data (what the chart plots)"


def _fit_text_rows(ws: Worksheet, width: int, rows: dict[int, float]) -> None:
    """Row heights that fit the wrapped text of merged rows (Excel does not grow merged rows by itself)."""
    for row, size in rows.items():
        first = 1 if row == 1 else 2
        chars = sum((ws.column_dimensions[get_column_letter(c)].width or 8.43) for c in range(first, width + 1))
        per_line = max(10.0, chars * 1.15 * 11 / size)  # a column width counts characters of the 11 pt font
        text = str(ws.cell(row=row, column=first).value or "")
        lines = sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))
        ws.row_dimensions[row].height = min(409, lines * size * 1.35 + 4)  # 409 pt: Excel's largest row


def _print_setup(ws: Worksheet, *, landscape: bool = False, title_rows: str | None = None) -> None:
    """Print on A4, every column on one page width (as many pages down as needed), header rows repeated."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    if title_rows:
        ws.print_title_rows = title_rows


def answer_chart(answer: Answer, ws: Worksheet, header_row: int, last_row: int):
    """The native chart that fits the answer's shape (``tasks.reports.findings.answer_shape``), as the PDF draws it.

    What the chart plots (``tasks.reports.findings.chart_data``: one column per series, weekday and month
    names, shares, the largest rows of a ranking) is written as a small "Chart data" table below the
    answer's table, and the chart reads it. A scatter reads the answer's table itself. Returns None
    when there is nothing to draw.
    """
    shape = findings.answer_shape(answer)
    if shape.kind == "none":
        return None
    if shape.kind == "scatter":
        return _scatter_chart(answer, shape, ws, header_row, last_row)
    data = findings.chart_data(answer, shape)
    if data is None or not data.categories:
        return None
    top = last_row + (3 if answer.truncated else 2)
    _put(ws, top, 1, CHART_DATA_TITLE).font = LABEL_FONT
    category_name = " · ".join(findings.human(c) for c in shape.category) or "row"
    _header(ws, top + 1, [category_name, *data.series])
    number_format = findings.excel_format("float", data.unit)
    for r, category in enumerate(data.categories, start=top + 2):
        _put(ws, r, 1, category).border = BORDER
        for i, values in enumerate(data.series.values(), start=2):
            _put(ws, r, i, findings.excel_value(values[r - top - 2], data.unit), number_format).border = BORDER
    end = top + 1 + len(data.categories)
    values_ref = Reference(ws, min_col=2, max_col=1 + len(data.series), min_row=top + 1, max_row=end)
    categories = Reference(ws, min_col=1, min_row=top + 2, max_row=end)
    if shape.kind in {"line", "lines"}:
        chart = LineChart()
    elif shape.pie:
        chart = PieChart()
    else:
        chart = BarChart()
        chart.type = "bar" if shape.kind in {"ranking", "share"} else "col"
        if shape.kind == "stacked100":
            chart.grouping, chart.overlap = "percentStacked", 100
    chart.add_data(values_ref, titles_from_data=True)
    chart.set_categories(categories)
    if not shape.pie:
        chart.x_axis.title = category_name
        chart.y_axis.title = _value_title(shape, data)
        chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl >= 3.1 hides axes unless told otherwise
        chart.y_axis.number_format = _axis_format(data.unit)
        known = [v for values in data.series.values() for v in values if not math.isnan(v)]
        if known and min(known) >= 0 and (shape.kind != "line" or _from_zero(known)):
            chart.y_axis.scaling.min = 0  # bars from zero; a line from zero when its swing is small
        if shape.kind in {"ranking", "share"}:
            chart.x_axis.scaling.orientation = "maxMin"  # rank 1 (the first row) on top
        if len(data.series) == 1:
            chart.legend = None
        else:
            chart.legend.position = "r"
    chart.title = _chart_title(shape.title)
    chart.width, chart.height = (18, 9) if shape.kind != "ranking" else (18, max(7.5, 0.55 * len(data.categories)))
    return chart


def _from_zero(values: list[float]) -> bool:
    low, high = min(values), max(values)
    return (high - low) < 0.5 * max(abs(low), abs(high), 1e-9)


def _axis_format(unit: str | None) -> str:
    if unit == "%":
        return "0%"
    if findings.is_money(unit):
        mark = findings.CURRENCY_SIGNS.get(unit or "")
        return f'"{mark}"#,##0' if mark else f'#,##0 "{unit}"'
    return "#,##0"


def _value_title(shape: findings.Shape, data: findings.ChartData) -> str:
    name = findings.human(shape.measure) if shape.measure else findings.series_name(shape.series)
    return f"{name} ({data.unit})" if data.unit and data.unit != "count" else name


def _chart_title(text: str) -> Title:
    """The question as the chart's title, in 11 pt (Excel's 14 pt default leaves little room for the plot)."""
    text = text if len(text) <= 100 else text[:97].rsplit(" ", 1)[0] + "…"
    font = CharacterProperties(sz=1100, b=True)
    paragraph = Paragraph(pPr=ParagraphProperties(defRPr=font), r=[RegularTextRun(rPr=font, t=text)])
    return Title(tx=Text(rich=RichText(p=[paragraph])), overlay=False)


def _scatter_chart(answer: Answer, shape: findings.Shape, ws: Worksheet, header_row: int, last_row: int):
    chart = ScatterChart()
    y = Reference(ws, min_col=answer.columns.index(shape.measure) + 1, min_row=header_row, max_row=last_row)
    x = Reference(ws, min_col=answer.columns.index(shape.x_measure) + 1, min_row=header_row + 1, max_row=last_row)
    series = Series(y, x, title_from_data=True)
    series.marker.symbol = "circle"
    series.graphicalProperties.line.noFill = True
    chart.series.append(series)
    chart.x_axis.title = findings.human(shape.x_measure or "")
    chart.y_axis.title = findings.human(shape.measure or "")
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.legend = None
    chart.title = _chart_title(shape.title)
    chart.width, chart.height = 18, 9
    return chart


def _dictionary_sheet(ws: Worksheet, spec: ChallengeSpec, profiles: DatasetProfile) -> None:
    header = [
        "Table",
        "Column",
        "Type",
        "Unit",
        "Description",
        "Primary key",
        "Unique",
        "References",
        "Specified null rate",
        "Measured null rate",
        "Distinct values",
        "Generator",
    ]
    _header(ws, 1, header)
    measured = {(t.name, c.name): c for t in profiles.tables for c in t.columns}
    row = 2
    for table in spec.tables:
        for column in table.columns:
            profile = measured.get((table.name, column.name))
            generator = column.generator
            values = [
                table.name,
                column.name,
                column.type,
                column.unit or "",
                column.description,
                "yes" if column.name in table.primary_key else "",
                "yes" if column.unique else "",
                generator.references if isinstance(generator, ForeignKeyGenerator) else "",
                column.nullable,
                profile.null_rate if profile else None,
                profile.distinct if profile else None,
                generator.kind,
            ]
            formats = [None] * 8 + ["0.0%", "0.0%", "#,##0", None]
            for i, (value, fmt) in enumerate(zip(values, formats, strict=True), start=1):
                _put(ws, row, i, value, fmt).border = BORDER
            row += 1
    _fit_widths(ws)
    ws.column_dimensions["E"].width = 50
    for r in range(2, row):
        ws.cell(row=r, column=5).alignment = WRAP
        _fit_row(ws, r, [(str(ws.cell(row=r, column=5).value or ""), 50)])
    ws.freeze_panes = "A2"
    _print_setup(ws, landscape=True, title_rows="1:1")
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{row - 1}"


def _quality_sheet(ws: Worksheet, quality: QualityReport | None) -> None:
    if quality is None:
        _header(ws, 1, ["Quality metrics"])
        _put(ws, 2, 1, NO_QUALITY)
        ws.column_dimensions["A"].width = 90
        ws.freeze_panes = "A2"
        _print_setup(ws)
        return
    header = [
        "Category",
        "Passed",
        "Score (%)",
        "Evaluated",
        "Failed",
        "Unplanned defects",
        "Planted issues",
        "Seconds",
    ]
    _header(ws, 1, header)
    for r, c in enumerate(quality.categories, start=2):
        values = [
            c.category,
            "yes" if c.passed else "no",
            c.score,
            c.evaluated,
            c.failed,
            len(c.findings),
            len(c.planted),
            c.seconds,
        ]
        formats = [None, None, "0.0", "#,##0", "#,##0", "#,##0", "#,##0", "0.00"]
        for i, (value, fmt) in enumerate(zip(values, formats, strict=True), start=1):
            _put(ws, r, i, value, fmt).border = BORDER
    last = 1 + len(quality.categories)
    total = last + 2
    _put(ws, total, 1, "Overall").font = LABEL_FONT
    _put(ws, total, 2, quality.verdict)
    _put(ws, total, 3, quality.score, "0.0")
    _put(ws, total + 1, 1, "Engine")
    _put(ws, total + 1, 2, quality.engine)
    if quality.planted_missing:
        _put(ws, total + 2, 1, "Planted issues not found")
        _put(ws, total + 2, 2, "; ".join(quality.planted_missing))
    listed = [(f, "defect") for c in quality.categories for f in c.findings] + [
        (f, "planted") for c in quality.categories for f in c.planted
    ]
    start = total + 4
    _header(ws, start, ["Kind", "Category", "Expectation", "Table", "Column", "Message", "Unexpected rows", "Examples"])
    for r, (f, kind) in enumerate(listed, start=start + 1):
        values = [
            kind,
            f.category,
            f.expectation,
            f.table,
            f.column or "",
            f.message,
            f.unexpected_count,
            ", ".join(f.examples[:5]),
        ]
        for i, value in enumerate(values, start=1):
            cell = _put(ws, r, i, value, "#,##0" if i == 7 else None)
            cell.border, cell.alignment = BORDER, WRAP
    _fit_widths(ws)
    for r, (f, _kind) in enumerate(listed, start=start + 1):
        widths = [ws.column_dimensions[letter].width or 10 for letter in "CFH"]
        _fit_row(ws, r, list(zip([f.expectation, f.message, ", ".join(f.examples[:5])], widths, strict=True)))
    ws.freeze_panes = "A2"
    _print_setup(ws, landscape=True)
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Score by category (%)"
    chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    chart.x_axis.title, chart.y_axis.title = "category", "expectations met (%)"
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 100
    chart.legend = None
    chart.width, chart.height = 16, 8
    ws.add_chart(chart, f"{get_column_letter(len(header) + 2)}1")


def _samples_sheet(
    ws: Worksheet, spec: ChallengeSpec, profiles: DatasetProfile, samples: dict[str, pd.DataFrame]
) -> None:
    rows_by_table = {t.name: t.rows for t in profiles.tables}
    _put(ws, 1, 1, "Data samples: the first rows of each table").font = TITLE_FONT
    row = 3
    for table in spec.tables:
        frame = samples.get(table.name)
        if frame is None:
            continue
        _put(
            ws, row, 1, f"{table.name} (first {len(frame)} of {rows_by_table.get(table.name, len(frame)):,} rows)"
        ).font = LABEL_FONT
        _header(ws, row + 1, list(frame.columns))
        formats, units = [], []
        for name in frame.columns:
            column = table.column(str(name))
            kind = column.type if column else "string"
            kind = {"decimal": "float", "category": "string"}.get(kind, kind)
            unit = column.unit if column else None
            units.append(unit)
            # an integer without a unit is an id or a code: no thousands separator
            formats.append("0" if kind == "int" and not unit else findings.excel_format(kind, unit, str(name)))
        for r, values in enumerate(frame.itertuples(index=False, name=None), start=row + 2):
            for i, value in enumerate(values, start=1):
                _put(ws, r, i, findings.excel_value(_clean(value), units[i - 1]), formats[i - 1]).border = BORDER
        row += len(frame) + 3
    _fit_widths(ws, skip_rows={1})
    ws.freeze_panes = "A2"
    _print_setup(ws, landscape=True)
