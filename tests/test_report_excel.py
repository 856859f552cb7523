"""analytical_answers.xlsx reads back with openpyxl (sheets, charts over each question's table,
formats, frozen headers) and LibreOffice converts it to PDF without error."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart, LineChart, PieChart

from schemas.quality import QualityReport
from tasks.answers import compute_answers
from tasks.engine.output import generate_to_files
from tasks.reports.findings import answer_shape, chart_data
from tasks.reports.profiles import profile_tables, sample_tables
from tasks.reports.workbook import (
    CHART_DATA_TITLE,
    DICTIONARY_SHEET,
    NO_QUALITY,
    QUALITY_SHEET,
    SAMPLES_SHEET,
    SUMMARY_SHEET,
    TABLE_HEADER_ROW,
    build_workbook,
    question_sheet_names,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def quality_report() -> QualityReport:
    return QualityReport.model_validate_json((FIXTURES / "reports_quality.json").read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory, retail_spec):
    spec = retail_spec.model_copy(update={"scale": 1_500})
    work = tmp_path_factory.mktemp("xlsx")
    files = generate_to_files(spec, work / "data")
    key = compute_answers(spec, files.parquet, scenarios=files.scenarios)
    profiles = profile_tables(spec, files.parquet)
    samples = sample_tables(spec, files.parquet, rows=10)
    samples["customers"].loc[0, "first_name"] = "=1+1"  # text that looks like a formula stays text
    out = build_workbook(spec, key, profiles, quality_report(), samples, work / "analytical_answers.xlsx")
    return spec, key, out


def _range(ref: str) -> tuple[str, int, int, str, str]:
    match = re.fullmatch(r"'?(.+?)'?!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", ref)
    assert match, ref
    sheet, col1, row1, col2, row2 = match.groups()
    return sheet, int(row1), int(row2), col1, col2


def test_workbook_has_the_expected_sheets(built) -> None:
    spec, key, out = built
    wb = load_workbook(out)
    names = question_sheet_names(key)
    assert wb.sheetnames == [
        SUMMARY_SHEET,
        *[names[q.id] for q in spec.questions],
        DICTIONARY_SHEET,
        QUALITY_SHEET,
        SAMPLES_SHEET,
    ]


def _chart_block(ws, answer) -> int:
    """The header row of the sheet's "Chart data" table."""
    return next(r for r in range(TABLE_HEADER_ROW, ws.max_row + 1) if ws.cell(r, 1).value == CHART_DATA_TITLE) + 1


def test_every_question_sheet_charts_what_the_answer_shape_says(built) -> None:
    """The native chart is the shape's chart (type, one series per group or period) over its Chart data table."""
    spec, key, out = built
    wb = load_workbook(out)
    names = question_sheet_names(key)
    kinds = {}
    for answer in key.answers:
        ws = wb[names[answer.question_id]]
        shape = answer_shape(answer)
        kinds[answer.question_id] = shape.kind
        if shape.kind == "none":
            assert not ws._charts, answer.question_id
            continue
        assert len(ws._charts) == 1, answer.question_id
        chart = ws._charts[0]
        if shape.kind in {"line", "lines"}:
            assert isinstance(chart, LineChart), answer.question_id
        elif shape.pie:
            assert isinstance(chart, PieChart), answer.question_id
        else:
            assert isinstance(chart, BarChart), answer.question_id
            assert chart.type == ("bar" if shape.kind in {"ranking", "share"} else "col"), answer.question_id
            assert chart.y_axis.scaling.min == 0 or shape.kind == "scatter"  # bars start at zero
        data = chart_data(answer, shape)
        header = _chart_block(ws, answer)
        assert [ws.cell(header, 1 + i).value for i in range(1, 1 + len(data.series))] == list(data.series)
        assert len(chart.series) == len(data.series), answer.question_id
        for i, series in enumerate(chart.series):
            sheet, first_row, last_row, col, _ = _range(series.val.numRef.f)
            assert (first_row, last_row) == (header + 1, header + len(data.categories)), answer.question_id
            expected = list(data.series.values())[i]
            got = [ws[f"{col}{r}"].value for r in range(first_row, last_row + 1)]
            scale = 100 if data.unit == "%" else 1  # percentages are stored as fractions
            assert [None if v is None else v * scale for v in got] == pytest.approx(
                [None if v != v else v for v in expected], nan_ok=True
            ), answer.question_id
        assert [ws.cell(r, 1).value for r in range(header + 1, header + 1 + len(data.categories))] == data.categories
        assert chart.title is not None
        # the table under the chart is the answer itself
        assert [c.value for c in ws[TABLE_HEADER_ROW]][: len(answer.columns)] == answer.columns
        assert ws.freeze_panes == f"A{TABLE_HEADER_ROW + 1}"
    # the retail blueprint's shapes: a ranking, a share, before/after, shares per year by channel, weekdays
    assert (kinds["q02"], kinds["q03"], kinds["q06"], kinds["q07"], kinds["q12"]) == (
        "ranking",
        "share",
        "clustered",
        "stacked100",
        "bars",
    )
    q07 = wb[names["q07"]]._charts[0]
    assert q07.grouping == "percentStacked" and len(q07.series) == 3  # one series per channel
    assert wb[names["q02"]]._charts[0].x_axis.scaling.orientation == "maxMin"  # rank 1 on top
    q12 = wb[names["q12"]]
    header = _chart_block(q12, key.answer("q12"))
    assert q12.cell(header + 1, 1).value in {"Sunday", "Monday"}  # weekday names, not 0-6


def test_formats_headers_and_values(built) -> None:
    spec, key, out = built
    wb = load_workbook(out)
    ws = wb[question_sheet_names(key)["q03"]]
    header = ws.cell(TABLE_HEADER_ROW, 1)
    assert header.font.bold and header.fill.fgColor.rgb.endswith("2F6690")
    share = ws.cell(TABLE_HEADER_ROW + 1, 3)
    assert share.number_format == "0.0%" and share.value == pytest.approx(key.answer("q03").rows[0][2] / 100)
    assert ws.cell(TABLE_HEADER_ROW + 1, 2).number_format == '"$"#,##0.00'  # the spec's currency
    q01 = wb[question_sheet_names(key)["q01"]]
    assert q01.cell(TABLE_HEADER_ROW + 1, 1).number_format == "0"  # a year, never 2,023
    assert q01.cell(TABLE_HEADER_ROW + 1, 2).number_format == "#,##0"  # a count, no decimals
    assert ws.column_dimensions["A"].width >= 12
    monthly = wb[question_sheet_names(key)["q04"]].cell(TABLE_HEADER_ROW + 1, 1)
    assert monthly.is_date and monthly.number_format == "yyyy-mm-dd"
    dictionary = wb[DICTIONARY_SHEET]
    assert dictionary.freeze_panes == "A2"
    rows = [[c.value for c in row] for row in dictionary.iter_rows(min_row=2)]
    assert len(rows) == sum(len(t.columns) for t in spec.tables)
    assert ["orders", "customer_id"] in [r[:2] for r in rows]
    assert next(r for r in rows if r[:2] == ["orders", "customer_id"])[7] == "customers.customer_id"
    samples = wb[SAMPLES_SHEET]
    cell = next(c for row in samples.iter_rows() for c in row if c.value == "=1+1")
    assert cell.data_type == "s"
    summary = wb[SUMMARY_SHEET]
    assert summary["A1"].value.endswith("analytical answers")
    links = [c.hyperlink.location or c.hyperlink.target for row in summary.iter_rows() for c in row if c.hyperlink]
    assert len(links) == len(key.answers)
    start = next(r for r in range(1, 40) if summary.cell(r, 1).value == "Key findings")
    stated = [summary.cell(r, 2).value for r in range(start + 1, start + 7) if summary.cell(r, 1).value]
    assert 4 <= len([t for t in stated if t]) <= 6


def test_text_fits_and_every_sheet_prints_one_page_wide(built) -> None:
    """Wrapped rows are tall enough for their text, nothing is cut, and each sheet prints fit to width."""
    spec, key, out = built
    wb = load_workbook(out)
    for ws in wb.worksheets:
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
    for answer in key.answers:
        ws = wb[question_sheet_names(key)[answer.question_id]]
        assert ws.page_setup.orientation == "landscape"
        assert ws.print_title_rows.replace("$", "") == f"{TABLE_HEADER_ROW}:{TABLE_HEADER_ROW}"
        assert ws["B3"].value == answer.analysis and ws["B4"].value == answer.sql.strip()  # nothing cut
        for row in (1, 3, 4):
            text = str(ws.cell(row, 1 if row == 1 else 2).value)
            line = {1: 14, 3: 11, 4: 9}[row] * 1.3  # points per line of the row's font
            lines = sum(1 + len(part) // 400 for part in text.split("\n"))  # 400 characters: wider than any sheet
            assert ws.row_dimensions[row].height >= line * lines, (ws.title, row)


def test_quality_sheet_lists_categories_or_says_quality_did_not_run(built, tmp_path: Path, retail_spec) -> None:
    spec, key, out = built
    ws = load_workbook(out)[QUALITY_SHEET]
    categories = [ws.cell(r, 1).value for r in range(2, 10)]
    assert categories[0] == "schema_conformity" and "validity" in categories
    assert ws.cell(categories.index("validity") + 2, 2).value == "no"
    # without a quality report
    profiles = profile_tables(spec, {t: p for t, p in _parquet(out).items()})
    empty = build_workbook(spec, key, profiles, None, {}, tmp_path / "analytical_answers.xlsx")
    ws = load_workbook(empty)[QUALITY_SHEET]
    assert ws["A2"].value == NO_QUALITY
    assert load_workbook(empty)[SUMMARY_SHEET]["B9"].value == NO_QUALITY


def _parquet(out: Path) -> dict[str, Path]:
    # a table is a file or a folder of parts, depending on how the engine wrote it
    return {p.name if p.is_dir() else p.stem: p for p in (out.parent / "data" / "parquet").iterdir()}


def test_libreoffice_converts_the_workbook_to_pdf(built, tmp_path: Path) -> None:
    """LibreOffice opens the workbook (charts included) and exports it without error."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is required for this test: apt-get install libreoffice-calc-nogui"
    _, _, out = built
    env = {**os.environ, "HOME": str(tmp_path)}  # a private profile: parallel runs do not share a lock
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    pdf = tmp_path / "analytical_answers.pdf"
    assert pdf.exists() and pdf.stat().st_size > 10_000, result.stdout + result.stderr


def test_missing_values_of_every_kind_are_empty_cells(built, tmp_path: Path) -> None:
    """A nullable Int64 <NA>, a float NaN and a NaT reach the writer as empty cells, not a crash.

    Regression: ``ValueError: Cannot convert <NA> to Excel`` on a nullable integer rating column.
    """
    import pandas as pd

    spec, key, out = built
    table = spec.tables[0]
    names = table.column_names[:3]
    frame = pd.DataFrame({names[0]: pd.array([1, pd.NA, 3], dtype="Int64")})
    frame[names[1]] = [1.5, float("nan"), 2.5]
    frame[names[2]] = pd.to_datetime(["2024-01-01", None, "2024-03-01"])
    profiles = profile_tables(spec, _parquet(out))
    path = build_workbook(spec, key, profiles, None, {table.name: frame}, tmp_path / "na.xlsx")
    ws = load_workbook(path)[SAMPLES_SHEET]
    header = next(r for r in range(1, 10) if ws.cell(r, 1).value == names[0])
    assert [ws.cell(header + 1, c).value for c in (1, 2)] == [1, 1.5]
    assert [ws.cell(header + 2, c).value for c in (1, 2, 3)] == [None, None, None]
    assert ws.cell(header + 3, 1).value == 3
