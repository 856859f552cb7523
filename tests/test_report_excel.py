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
from tasks.profiles import profile_tables, sample_tables
from tasks.report_excel import (
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


def test_every_question_sheet_charts_its_whole_table(built) -> None:
    """The chart's values and categories cover every data row of the sheet's table, of the hinted type."""
    spec, key, out = built
    wb = load_workbook(out)
    names = question_sheet_names(key)
    expected_type = {"pie": PieChart, "line": LineChart, "bar": BarChart, "column": BarChart}
    for answer in key.answers:
        ws = wb[names[answer.question_id]]
        assert len(ws._charts) == 1, answer.question_id
        chart = ws._charts[0]
        assert isinstance(chart, expected_type[answer.chart]), answer.question_id
        if answer.chart in ("bar", "column"):
            assert chart.type == ("bar" if answer.chart == "bar" else "col")
        last = TABLE_HEADER_ROW + len(answer.rows)
        series = chart.series[0]
        sheet, first_row, last_row, col, _ = _range(series.val.numRef.f)
        assert sheet == ws.title and (first_row, last_row) == (TABLE_HEADER_ROW + 1, last)
        assert ws[f"{col}{TABLE_HEADER_ROW}"].value == answer.measure
        cat = series.cat.numRef or series.cat.strRef or series.cat.multiLvlStrRef
        assert _range(cat.f)[1:3] == (TABLE_HEADER_ROW + 1, last)
        # the table under the chart is the answer itself
        assert [c.value for c in ws[TABLE_HEADER_ROW]][: len(answer.columns)] == answer.columns
        assert ws.freeze_panes == f"A{TABLE_HEADER_ROW + 1}"


def test_formats_headers_and_values(built) -> None:
    spec, key, out = built
    wb = load_workbook(out)
    ws = wb[question_sheet_names(key)["q03"]]
    header = ws.cell(TABLE_HEADER_ROW, 1)
    assert header.font.bold and header.fill.fgColor.rgb.endswith("2F6690")
    share = ws.cell(TABLE_HEADER_ROW + 1, 3)
    assert share.number_format == '0.0"%"' and share.value == key.answer("q03").rows[0][2]
    assert ws.cell(TABLE_HEADER_ROW + 1, 2).number_format == "#,##0.00"
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
