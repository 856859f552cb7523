"""quality_report.pdf reads back with pypdf (12+ images, every section), renders non-blank pages,
states a missing quality report; table profiles agree with pandas on the same Parquet."""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image
from pypdf import PdfReader

from schemas.errors import InputError
from schemas.quality import QualityReport
from schemas.serialize import spec_from_data
from tasks.answers import compute_answers
from tasks.engine.output import generate_to_files
from tasks.reports import charts
from tasks.reports.pdf import NO_QUALITY, SECTION_TITLES, build_pdf, chart_jobs
from tasks.reports.profiles import profile_tables, sample_tables

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def quality_report() -> QualityReport:
    """A quality report as the quality phase hands it over: one failing category, one planted issue."""
    return QualityReport.model_validate_json((FIXTURES / "reports_quality.json").read_text())


def _dataset(spec, work: Path):
    files = generate_to_files(spec, work)
    key = compute_answers(spec, files.parquet, scenarios=files.scenarios)
    return files, key, profile_tables(spec, files.parquet)


@pytest.fixture(scope="module")
def retail(tmp_path_factory, retail_spec):
    spec = retail_spec.model_copy(update={"scale": 1_500})
    return (spec, *_dataset(spec, tmp_path_factory.mktemp("retail")))


def _text(reader: PdfReader) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def _assert_pages_not_blank(pdf: Path, work: Path) -> int:
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(pdf), str(work / "page")], check=True)
    pages = sorted(work.glob("page-*.png"))
    for page in pages:
        grey = Image.open(page).convert("L")
        low, high = grey.getextrema()
        assert low < 200 and high > 240, f"{page.name} looks blank"
    return len(pages)


def test_pdf_has_every_section_twelve_images_and_non_blank_pages(retail, tmp_path: Path) -> None:
    # Setup
    spec, files, key, profiles = retail
    out = tmp_path / "pkg" / "quality_report.pdf"
    # Run
    build_pdf(spec, key, profiles, quality_report(), out, scenarios=files.scenarios)
    # Assert
    reader = PdfReader(out)
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 12, images
    text = _text(reader)
    for title in SECTION_TITLES:
        assert title in text, title
    assert "great_expectations" in text and "fee above 9.99" in text
    assert f"Page {len(reader.pages)}" in reader.pages[-1].extract_text()
    assert _assert_pages_not_blank(out, tmp_path) == len(reader.pages)
    assert sorted(p.name for p in out.parent.iterdir()) == ["quality_report.pdf"]  # no temporary left


def test_pdf_without_quality_says_so(retail, tmp_path: Path) -> None:
    """Quality may not have run: the report says so instead of inventing results."""
    spec, files, key, profiles = retail
    out = build_pdf(spec, key, profiles, None, tmp_path / "quality_report.pdf")
    text = _text(PdfReader(out))
    assert NO_QUALITY in text
    assert "Score by category" not in text


def test_pdf_for_the_fixture_domain(tmp_path: Path) -> None:
    """Another domain, fewer questions: still 12+ visuals, every section, a scalar answer shown as text."""
    spec = spec_from_data(yaml.safe_load((FIXTURES / "reports_subscriptions.yaml").read_text()))
    files, key, profiles = _dataset(spec, tmp_path / "data")
    out = build_pdf(spec, key, profiles, quality_report(), tmp_path / "quality_report.pdf")
    reader = PdfReader(out)
    assert sum(len(page.images) for page in reader.pages) >= 12
    text = _text(reader)
    assert all(title in text for title in SECTION_TITLES)
    assert "The answer is invoices = " in text
    _assert_pages_not_blank(out, tmp_path)


def test_pdf_streams_are_binary_not_ascii85(retail, tmp_path: Path) -> None:
    """Images go in as compressed binary streams: no pure-Python ASCII85 pass, a smaller file."""
    spec, files, key, profiles = retail
    out = build_pdf(spec, key, profiles, None, tmp_path / "quality_report.pdf", scenarios=files.scenarios)
    data = out.read_bytes()
    assert b"/FlateDecode" in data and b"/ASCII85Decode" not in data


# --------------------------------------------------------------------------- charts


def test_helpers_render_the_same_figures_as_one_process(retail) -> None:
    """Forked helpers share the work; every figure comes back, byte for byte as rendered alone."""
    spec, files, key, profiles = retail
    jobs = chart_jobs(spec, key, profiles, quality_report(), files.scenarios)

    alone = charts.render_all(jobs, workers=1)
    shared = charts.render_all(jobs, workers=3)

    assert list(shared) == list(jobs)
    assert shared == alone
    pngs = [png for png in alone.values() if png]
    assert len(pngs) >= 12
    for png in pngs:
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG" and image.mode == "RGB"  # opaque: no soft mask in the PDF
            assert image.width >= 600


def _wait_then(value: bytes):
    def job() -> bytes:
        time.sleep(0.05)
        return value

    return job


def _fail() -> bytes:
    raise ValueError("no such column: revenue")


def _warn() -> bytes:
    warnings.warn("a chart had nothing to show", UserWarning, stacklevel=1)
    return b"warned"


def test_a_failing_figure_raises_here_and_warnings_reach_the_caller() -> None:
    """A helper's failure is not swallowed: the job runs again in the caller and raises; warnings come through."""
    many = {f"wait{i}": _wait_then(str(i).encode()) for i in range(6)}

    with pytest.raises(ValueError, match="no such column: revenue"):
        charts.render_all({**many, "broken": _fail}, workers=2)
    with pytest.warns(UserWarning, match="a chart had nothing to show"):
        result = charts.render_all({**many, **{f"warn{i}": _warn for i in range(4)}}, workers=2)
    assert result == {**{f"wait{i}": str(i).encode() for i in range(6)}, **{f"warn{i}": b"warned" for i in range(4)}}


def test_a_helper_that_hangs_is_stopped_and_its_figure_made_here(monkeypatch) -> None:
    """A stuck helper (say, a lock held at the fork) costs a grace period, never a hung report."""
    monkeypatch.setattr(charts, "HELPER_GRACE_SECONDS", 0.3)
    parent = os.getpid()

    def stuck_in_a_helper(value: bytes):
        def job() -> bytes:
            while os.getpid() != parent:
                time.sleep(1)
            time.sleep(0.01)
            return value

        return job

    jobs = {f"job{i}": stuck_in_a_helper(str(i).encode()) for i in range(5)}
    assert charts.render_all(jobs, workers=2) == {f"job{i}": str(i).encode() for i in range(5)}


def test_chart_workers_can_be_set(monkeypatch) -> None:
    monkeypatch.setenv("DATAFACTORY_CHART_WORKERS", "1")
    assert charts.chart_workers() == 1
    monkeypatch.setenv("DATAFACTORY_CHART_WORKERS", "many")
    with pytest.raises(ValueError, match="DATAFACTORY_CHART_WORKERS must be a whole number"):
        charts.chart_workers()
    monkeypatch.delenv("DATAFACTORY_CHART_WORKERS")
    assert charts.chart_workers() is None  # decided from the idle CPUs
    assert charts.render_all({f"wait{i}": _wait_then(b"x") for i in range(4)}) == {f"wait{i}": b"x" for i in range(4)}


# --------------------------------------------------------------------------- profiles


def test_profiles_match_pandas_on_the_parquet(retail) -> None:
    """Row counts, nulls, ranges, means and top values from DuckDB aggregates equal pandas."""
    spec, files, _, profiles = retail
    orders = pd.read_parquet(files.parquet["orders"])
    profile = profiles.table("orders")
    assert profile.rows == len(orders)
    ship = profile.column("ship_date")
    assert ship.nulls == int(orders["ship_date"].isna().sum()) and ship.nulls > 0
    assert ship.min[:10] == str(pd.to_datetime(orders["ship_date"]).min().date())
    fee = profile.column("order_total")
    assert fee.min == pytest.approx(orders["order_total"].min())
    assert fee.mean == pytest.approx(orders["order_total"].mean())
    assert sum(b.count for b in fee.histogram) == orders["order_total"].notna().sum()
    channel = profile.column("channel")
    counts = orders["channel"].value_counts()
    assert channel.top_values[0].value == counts.index[0] and channel.top_values[0].count == counts.iloc[0]
    months = profile.column("order_date").by_month
    assert months[0].period == pd.to_datetime(orders["order_date"]).min().strftime("%Y-%m")
    assert sum(m.count for m in months) == len(orders)
    assert profile.column("order_id").top_values == []  # a unique key has no "most common" value


def test_samples_are_small_and_profiles_refuse_missing_files(retail, retail_spec) -> None:
    spec, files, _, _ = retail
    samples = sample_tables(spec, files.parquet, rows=5)
    assert {name: len(frame) for name, frame in samples.items()} == {t.name: 5 for t in spec.tables}
    with pytest.raises(InputError, match="no Parquet file for table"):
        profile_tables(spec, {"orders": files.parquet["orders"]})
    with pytest.raises(InputError, match="between 1 and 1,000"):
        sample_tables(spec, files.parquet, rows=0)


def test_er_diagram_draws_every_key_link_and_reads_at_page_size() -> None:
    """Every FK, every group key named like a parent key, and every date joining the calendar is a link;
    the figure is drawn at about the PDF's content width, so its 6.8 pt text is not scaled down."""
    from tasks.domains import load_blueprint

    root = Path(__file__).resolve().parent.parent / "domains"
    spec = load_blueprint(root / "hospitality.yaml").spec
    calendar = charts.calendar_links(spec)
    assert ("fact_bookings", "check_in_date", "dim_date", "date_key") in calendar
    assert all(parent == "dim_date" for _, _, parent, _ in calendar)
    assert ("fact_daily_property", "property_id", "dim_properties", "property_id") in charts.group_key_links(spec)
    image = Image.open(io.BytesIO(charts.er_diagram(spec)))
    assert image.width <= 7.3 * charts.DPI  # shown at ~174 mm: text keeps its size
    listed = dict(charts.columns_by_table(spec))
    assert set(listed) == set(spec.table_names) and "check_in_date (date)" in listed["fact_bookings"]


def test_profile_panels_skip_keys_and_calendar_parts(retail) -> None:
    """No histogram of a surrogate key, no 'most common year', no days-per-month of a calendar."""
    spec, _files, _key, profiles = retail
    for table in profiles.tables:
        for kind, column in charts.profile_panels(table, spec.table(table.name)):
            assert column.name not in spec.table(table.name).primary_key, (table.name, column.name)
            assert not column.name.endswith("_id"), (table.name, column.name)
            if kind != "month":
                assert not (column.type == "int" and re.search("year|month|day", column.name)), column.name


def test_the_report_font_prints_the_rupee_sign() -> None:
    from fontTools.ttLib import TTFont
    from reportlab.pdfbase import pdfmetrics

    from tasks.reports.pdf import _fonts

    regular, bold = _fonts()
    assert (regular, bold) == ("DejaVuSans", "DejaVuSans-Bold")  # Helvetica has no ₹: INR amounts printed as boxes
    face = pdfmetrics.getFont(regular).face
    assert 0x20B9 in TTFont(face.filename).getBestCmap()


def test_a_long_footer_is_cut_at_a_word_and_fits_the_page() -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from tasks.reports.pdf import _fonts, fit_text

    font = _fonts()[0]
    title = "SunGrid Energy: installations market by installer and state analysis with a very long subtitle · report"
    cut = fit_text(title, font, 7.5, 200)
    assert cut.endswith(" …") and stringWidth(cut, font, 7.5) <= 200
    assert title.startswith(cut[:-2])  # whole words only
    assert fit_text("short", font, 7.5, 200) == "short"
