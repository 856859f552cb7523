"""Findings in words and the chart that fits: what an answer's shape says, shared by the PDF and the workbook.

Contract: everything here is computed from one answer's result table (its columns, types, units,
label columns and measure, as ``tasks.answers`` stores them) and its planted-scenario check; no
per-domain code. Three things come out of it:

- ``answer_shape``: how the result should be drawn (a line per group for a long result with a
  period and a grouping column, clustered bars for before/after columns, sorted horizontal bars
  with rank 1 on top for rankings, shares for share questions, ...). ``tasks.reports.charts`` (the PDF
  figure) and ``tasks.reports.workbook`` (the native chart) both draw from it.
- ``analyse``: short findings in words with formatted numbers (currency from the unit, which is
  the spec's currency code for money columns; thousands separators; percentages; counts without
  decimals; years as years; weekday and month numbers as names).
- ``executive_summary``: the 4-6 strongest findings across the answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from schemas.results import Answer, AnswerKey

# ISO 4217 codes whose sign goes before the number; any other three-letter code is written after it
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹", "JPY": "¥", "CNY": "¥", "KRW": "₩", "NGN": "₦"}
WEEKDAYS_SUNDAY_FIRST = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
MAX_SERIES = 8  # lines or bar groups in one chart; more groups are cut to the largest
MAX_CATEGORIES = 15  # bars in one ranking chart
SUMMARY_MIN, SUMMARY_MAX = 4, 6

_WEEKDAY_NAME = re.compile(r"(dow|weekday|week_day|day_of_week|dayofweek|day_name)", re.IGNORECASE)
_MONTH_NAME = re.compile(r"month", re.IGNORECASE)
_YEAR_NAME = re.compile(r"(year|cohort|fy)", re.IGNORECASE)
_TIME_NAME = re.compile(r"(year|month|quarter|week|date|cohort|period|day|hour|fy)", re.IGNORECASE)
_RANK_NAME = re.compile(r"rank", re.IGNORECASE)
_SHARE_NAME = re.compile(r"(share|pct_of|percent_of|mix)", re.IGNORECASE)
_SHARE_WORDS = re.compile(r"\b(share|proportion|mix|split|breakdown)\b", re.IGNORECASE)
_RANK_WORDS = re.compile(r"\b(top|bottom|rank|ranking|most|least|highest|lowest|best|worst|largest)\b", re.IGNORECASE)
_CHANGE_NAME = re.compile(r"(growth|change|delta|diff|cagr|uplift|lift)", re.IGNORECASE)
_RELATIVE_NAME = re.compile(r"(pct|percent|share|rate|ratio|growth|change|avg|mean|median|per_|cagr)", re.IGNORECASE)
# a token that names a period inside a column name: q2_orders / q3_orders, spring_2023 / spring_2024
_PERIOD_TOKEN = re.compile(
    r"^(q[1-4]|h[12]|(19|20)\d\d|fy\d{2,4}|before|after|pre|post|prev|previous|prior|current|curr|last|this|"
    r"baseline|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)$",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- numbers as people read them


def is_money(unit: str | None) -> bool:
    """A unit is money when it is a three-letter currency code (the spec's currency for money columns)."""
    return bool(unit) and bool(re.fullmatch(r"[A-Z]{3}", unit or ""))


def is_year(column: str, value: Any) -> bool:
    """A year-like cell: an integral number in 1800-2200 in a column named for a year or cohort."""
    if not _YEAR_NAME.search(column) or isinstance(value, bool):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number.is_integer() and 1800 <= number <= 2200


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, unit: str | None = None, *, compact: bool = False, signed: bool = False) -> str:
    """A number as a person reads it.

    Money (a currency-code unit) with its sign (``$1,234.50``, ``1,234.50 BRL``), ``%`` units as
    percentages, counts without decimals, durations with their unit; ``compact`` writes millions as
    ``1.23M``; ``signed`` puts ``+`` before positive numbers (a change).
    """
    if _missing(value):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if not isinstance(value, (int, float, np.integer, np.floating)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return str(value)
    number = float(value)
    sign = "+" if signed and number > 0 else ""
    if unit == "%":
        decimals = 1 if abs(number) >= 0.05 or number == 0 else 2
        return f"{sign}{number:,.{decimals}f}%"
    # a whole number of a counted unit (4.0 subscribers) needs no decimals; money keeps its cents
    integral = isinstance(value, (int, np.integer)) or (number.is_integer() and not is_money(unit))
    if compact and abs(number) >= 1_000_000:
        body = f"{number / 1_000_000:,.2f}M"
    elif compact and abs(number) >= 10_000 and not integral:
        body = f"{number:,.0f}"
    elif integral:
        body = f"{round(number):,}"
    elif compact and unit and not is_money(unit) and abs(number) < 1_000:
        body = f"{number:,.1f}"  # an average of a counted unit (56.4 memberships, 3.2 days)
    elif abs(number) >= 1_000:
        body = f"{number:,.0f}" if compact else f"{number:,.2f}"
    else:
        body = f"{number:,.2f}"
    if body.startswith("-"):
        sign, body = "-", body[1:]
    if is_money(unit):
        mark = CURRENCY_SIGNS.get(unit or "")
        return f"{sign}{mark}{body}" if mark else f"{sign}{body} {unit}"
    if unit and unit != "count":
        return f"{sign}{body} {unit}"
    return f"{sign}{body}"


def excel_format(kind: str, unit: str | None, column: str = "") -> str | None:
    """The Excel number format of a result column (percentages are stored as fractions, see ``excel_value``)."""
    if kind == "date":
        return "yyyy-mm-dd"
    if kind == "datetime":
        return "yyyy-mm-dd hh:mm:ss"
    if kind not in {"int", "float"}:
        return None
    if _YEAR_NAME.search(column) and kind == "int":
        return "0"
    if unit == "%":
        return "0.0%"
    if is_money(unit):
        mark = CURRENCY_SIGNS.get(unit or "")
        return f'"{mark}"#,##0.00' if mark else f'#,##0.00 "{unit}"'
    if kind == "int":
        return "#,##0"
    return "#,##0.00"  # an average of a count (2.97 memberships per member) keeps its decimals


def excel_value(value: Any, unit: str | None) -> Any:
    """A cell value for ``excel_format``: a percentage (14.6) becomes the fraction Excel shows as 14.6%."""
    if unit == "%" and isinstance(value, (int, float)) and not isinstance(value, bool) and not _missing(value):
        return value / 100
    return value


def series_name(columns: list[str]) -> str:
    """What before/after columns measure, without their period words (``q2_orders``, ``q3_orders`` -> orders)."""
    if len(columns) > 1 and all(_SHARE_NAME.search(c) for c in columns):
        return "share"  # share of memberships beside share of revenue
    tokens = [t for t in columns[0].lower().split("_") if not _PERIOD_TOKEN.match(t)] if columns else []
    return human("_".join(tokens)) if tokens else " / ".join(human(c) for c in columns)


def human(column: str) -> str:
    """A column name as words: ``avg_order_value`` -> ``avg order value``; a ``_pct`` suffix dropped."""
    name = re.sub(r"_(pct|percent|number|num|no)$", "", column)
    words = [_ACRONYMS.get(word, word) for word in name.split("_") if word]
    return " ".join(words) or column


# analytics abbreviations read as capitals (generic vocabulary, not a domain's)
_ACRONYMS = {
    w: w.upper()
    for w in (
        "arpu", "aov", "cagr", "kpi", "gb", "mb", "nps", "csat", "ltv", "cac", "sku", "mrr", "arr", "otp", "otif",
        "adr", "gmv", "ctr", "cpc", "roi", "sla", "ask", "rask", "ebitda",
    )
}  # fmt: skip
_ACRONYMS |= {"revpar": "RevPAR"}
_ACRONYMS |= {"mom": "MoM", "yoy": "YoY", "qoq": "QoQ"}


# --------------------------------------------------------------------------- labels: days and months as names


def label_namer(column: str, values: pd.Series, sql: str = "") -> Callable[[Any], str] | None:
    """Names for a weekday or month-number column (``0`` -> ``Sunday``), or None when it is not one.

    DuckDB's ``dayofweek``/``DOW`` count from Sunday = 0, ``isodow`` from Monday = 1; a month number
    is 1-12 in a column named for a month.
    """
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty or not (numbers == numbers.round()).all():
        return None
    low, high = int(numbers.min()), int(numbers.max())
    if _WEEKDAY_NAME.search(column) and low >= 0 and high <= 7:
        iso = "isodow" in sql.lower() or (low >= 1 and high == 7)
        if iso:
            return lambda v: WEEKDAYS_SUNDAY_FIRST[int(v) % 7]
        return lambda v: WEEKDAYS_SUNDAY_FIRST[int(v)] if 0 <= int(v) <= 6 else str(v)
    if _MONTH_NAME.search(column) and not _YEAR_NAME.search(column) and low >= 1 and high <= 12:
        return lambda v: MONTHS[int(v) - 1]
    if re.search(r"hour", column, re.IGNORECASE) and low >= 0 and high <= 23:
        return lambda v: f"{int(v):02d}:00"
    return None


def cell_text(value: Any, column: str = "", namer: Callable[[Any], str] | None = None) -> str:
    """A label cell as text: weekday/month names, dates without midnight, years without separators."""
    if _missing(value):
        return "(empty)"
    if namer is not None:
        try:
            return namer(value)
        except (TypeError, ValueError, IndexError):
            pass
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat(sep=" ")
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(T00:00:00)?", value):
        return value[:10]
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- the answer's shape


@dataclass
class Shape:
    """How an answer is drawn.

    kind: ``none`` (nothing to draw), ``line`` (one series over time), ``lines`` (one line per
    group over time), ``ranking`` (sorted horizontal bars, rank 1 on top), ``bars`` (one bar per
    category, in the result's order), ``clustered`` (categories x series side by side),
    ``share`` (a pie or bars of shares), ``stacked100`` (shares per period or group, stacked),
    ``scatter``.
    """

    kind: str
    title: str
    category: list[str] = field(default_factory=list)  # label column(s) on the category/time axis
    group: str | None = None  # the column whose values become series (long results)
    measure: str | None = None  # the plotted value (long results) or None
    series: list[str] = field(default_factory=list)  # wide results: one series per column
    unit: str | None = None
    horizontal: bool = False
    pie: bool = False
    x_measure: str | None = None  # scatter
    order: str | None = None  # bars drawn in the order of this column (weekday, hour), not the result's


def _kinds(answer: Answer) -> dict[str, str]:
    return dict(zip(answer.columns, answer.column_types or ["string"] * len(answer.columns), strict=False))


def _is_time(name: str, kind: str) -> bool:
    """A period that runs forward (date, year, month of a year); weekdays, hours and month numbers cycle."""
    if kind in {"date", "datetime"}:
        return True
    if kind != "int" or _WEEKDAY_NAME.search(name) or re.search(r"hour|number|_of_", name, re.IGNORECASE):
        return False
    return bool(_TIME_NAME.search(name)) and not (_MONTH_NAME.search(name) and not _YEAR_NAME.search(name))


def focus(answer: Answer) -> str | None:
    """The value the question is about: its share or rate column when it asks for a share or rate, else the measure."""
    measure = answer.measure
    if re.search(r"\b(share|rate|proportion|percentage)\b", answer.question, re.IGNORECASE):
        relative = [c for c in _numeric(answer) if answer.units.get(c) == "%" and not _CHANGE_NAME.search(c)]
        if relative and (measure is None or answer.units.get(measure) != "%"):
            return relative[0]
    if re.search(r"\bper\s+(1,?000|100|\d+)\b", answer.question, re.IGNORECASE):
        # "mishandled bags per 1,000 passengers": the rate column, not its denominator
        rates = [c for c in _numeric(answer) if re.search(r"(^|_)per_\d", c)]
        if rates and measure not in rates:
            return rates[0]
    pair = target_pair(answer) if measure and re.search(r"\btarget\b", answer.question, re.IGNORECASE) else None
    if pair:
        actual, _ = pair  # "did it reach its target": the actual beside its target, not the gap
        if _CHANGE_NAME.search(measure) or re.search(r"(gap|shortfall|variance)", measure, re.IGNORECASE):
            return actual
    return measure


def target_pair(answer: Answer) -> tuple[str, str] | None:
    """(actual, target) result columns: ``load_factor_pct`` beside ``target_load_factor_pct``."""
    numeric = _numeric(answer)
    for column in numeric:
        match = re.fullmatch(r"(?:target|planned|plan|goal|budget)_(.+)|(.+)_(?:target|plan|goal|budget)", column)
        if not match:
            continue
        base = match.group(1) or match.group(2)
        actual = next((c for c in numeric if c in {base, f"actual_{base}", f"{base}_actual"} and c != column), None)
        if actual:
            return actual, column
    return None


def _numeric(answer: Answer) -> list[str]:
    kinds = _kinds(answer)
    labels = set(answer.label_columns)
    return [
        c for c in answer.columns if kinds.get(c) in {"int", "float"} and c not in labels and not _RANK_NAME.search(c)
    ]


def _period_series(answer: Answer) -> list[str]:
    """Numeric columns that are one quantity in two or more periods (``q2_orders``, ``q3_orders``)."""
    groups: dict[str, list[str]] = {}
    for column in _numeric(answer):
        if _CHANGE_NAME.search(column):
            continue
        tokens = column.lower().split("_")
        pattern = "_".join("*" if _PERIOD_TOKEN.match(t) else t for t in tokens)
        if "*" in pattern:
            groups.setdefault(pattern, []).append(column)
    best = max(groups.values(), key=len, default=[])
    return best if len(best) >= 2 else []


def title_of(answer: Answer) -> str:
    """A chart title from the question (not the column name), shortened at a word boundary."""
    text = answer.question.strip()
    if len(text) > 120:
        text = text[:117].rsplit(" ", 1)[0] + "…"
    return text


def share_label(answer: Answer, column: str) -> str:
    """What a share is of: ``share of revenue`` for ``share_of_revenue_pct``; ``share_pct`` beside revenue
    is the share of revenue; a plain measure drawn as shares is the share of that measure."""
    name = human(column)
    if answer.units.get(column) != "%":
        return f"share of {name}"
    if re.search(r"\bof\b", name) or not _SHARE_NAME.search(column):
        return name
    if name.endswith(" share"):  # net_sales_share_pct
        return f"share of {name.removesuffix(' share')}"
    base = next((c for c in _numeric(answer) if c != column and _additive(answer, c)), None)
    return f"{name} of {human(base)}" if base else name


def share_columns(answer: Answer) -> list[str]:
    return [
        c
        for c in _numeric(answer)
        if _SHARE_NAME.search(c) and (answer.units.get(c) == "%" or "pct" in c.lower()) and not _CHANGE_NAME.search(c)
    ]


def _share_column(answer: Answer) -> str | None:
    return next(iter(share_columns(answer)), None)


def answer_shape(answer: Answer) -> Shape:
    """Choose the chart from the answer's shape (see ``Shape``); the question's hint breaks ties."""
    title = title_of(answer)
    if answer.error or not answer.rows or not answer.measure or answer.row_count < 2:
        return Shape("none", title)
    frame = answer.frame()
    labels = [c for c in answer.label_columns if c in frame.columns]
    times = time_columns(answer, frame)
    others = other_labels(answer, frame, times)
    measure = focus(answer)
    hint = answer.chart
    if hint == "scatter":
        xs = [c for c in _numeric(answer) if c != measure]
        if xs:
            return Shape("scatter", title, measure=measure, x_measure=xs[0], unit=answer.units.get(measure))
    share = _share_column(answer)
    share_question = bool(_SHARE_WORDS.search(answer.question)) or hint == "pie"
    shares = share_columns(answer)
    if len(shares) >= 2 and not times and others:
        # the share of memberships beside the share of revenue: one bar of each per category
        return Shape("clustered", title, category=others[:1], series=shares, unit="%")
    periods = _period_series(answer)
    groups = [c for c in others if frame[c].nunique() > 1]
    # long result: a period (or several) and a grouping column -> one series per group
    if times and groups and not frame.duplicated(subset=times + groups[:1]).any():
        group = groups[0]
        value = share if share and share_question else measure
        unit = answer.units.get(value)
        few_periods = frame[times].drop_duplicates().shape[0] <= 6
        if value == share and few_periods:
            return Shape("stacked100", title, category=times, group=group, measure=value, unit=unit)
        if few_periods and hint in {"bar", "column"}:
            return Shape("clustered", title, category=times, group=group, measure=value, unit=unit)
        return Shape("lines", title, category=times, group=group, measure=value, unit=unit)
    ranked = any(_RANK_NAME.search(c) for c in answer.columns) or (
        hint == "bar" and bool(_RANK_WORDS.search(answer.question))
    )
    repeated = [c for c in others if frame[c].nunique() < len(frame)]
    if len(repeated) >= 2 and not times and not ranked and hint in {"bar", "column", "line", "area"}:
        # a cross tab (segment x channel): the column with fewer values becomes the series
        a, b = repeated[0], repeated[1]
        group = b if frame[b].nunique() <= frame[a].nunique() else a
        category = a if group == b else b
        if frame[group].nunique() <= MAX_SERIES and not frame.duplicated(subset=[category, group]).any():
            value = share if share and share_question else measure
            return Shape(
                "clustered", title, category=[category], group=group, measure=value, unit=answer.units.get(value)
            )
    if len(times) >= 2 and not groups:
        cohort = next((c for c in times if "cohort" in c.lower()), None)
        rest = [c for c in times if c != cohort]
        if cohort and frame[cohort].nunique() <= MAX_SERIES and not frame.duplicated(subset=times).any():
            return Shape("lines", title, category=rest, group=cohort, measure=measure, unit=answer.units.get(measure))
    if periods and not times:
        unit = answer.units.get(periods[0])
        return Shape("clustered", title, category=others[:1], series=periods, unit=unit, horizontal=False)
    if times and not others and hint in {"bar", "column"} and len(frame) <= 12:
        # a few periods asked as bars (revenue per year): columns in time order
        return Shape("bars", title, category=times, measure=measure, unit=answer.units.get(measure), order=times[0])
    if times and not others:
        return Shape("line", title, category=times, measure=measure, unit=answer.units.get(measure))
    if share_question and (share or _additive(answer, measure)):
        value = share or measure
        pie = hint == "pie" and len(frame) <= 7 and (pd.to_numeric(frame[value], errors="coerce") >= 0).all()
        return Shape("share", title, category=others[:1] or labels[:1], measure=value, unit="%", pie=pie)
    cyclic = [c for c in labels if label_namer(c, frame[c], answer.sql) is not None or "hour" in c.lower()]
    if cyclic and len(labels) == 1:
        # weekdays, months of the year, hours: bars in their natural order, not a trend
        return Shape("bars", title, category=cyclic, measure=measure, unit=answer.units.get(measure), order=cyclic[0])
    from tasks.answers import choose_labels  # local: answers imports this module

    named = choose_labels(frame, labels) if labels else []
    if ranked or hint == "bar" or len(frame) > MAX_CATEGORIES:
        return Shape("ranking", title, category=named, measure=measure, unit=answer.units.get(measure), horizontal=True)
    return Shape("bars", title, category=named, measure=measure, unit=answer.units.get(measure))


def _additive(answer: Answer, column: str) -> bool:
    """Does a total of this column mean something? Money, counts and counted units do; a ratio has no unit."""
    unit = answer.units.get(column)
    if unit is None or unit in {"%", "days", "hours", "minutes"}:
        return False
    return not _RELATIVE_NAME.search(column)


_MONTH_INDEX = {name.lower(): i for i, name in enumerate(MONTHS, start=1)} | {
    name[:3].lower(): i for i, name in enumerate(MONTHS, start=1)
}


def _month_names(values: pd.Series) -> bool:
    known = values.dropna().astype(str).str.strip().str.lower()
    return len(known) > 0 and known.isin(_MONTH_INDEX).all()


_PHASES = {"before": 0, "pre": 0, "baseline": 0, "previous": 0, "prior": 0, "during": 1, "after": 2, "post": 2}
_PERIOD_VALUE = re.compile(
    r"\b(?:before|after|pre|post|during|baseline|previous|prior|q[1-4]|h[12]|fy ?\d{2,4}|(?:19|20)\d\d|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
    re.IGNORECASE,
)


def _phase(value: Any) -> int | None:
    """Where a period label such as ``before (Jul-Dec 2023)``, ``2: after`` or ``post-launch`` falls: 0 before,
    1 during, 2 after."""
    first = re.search(r"[a-z]+", str(value).lower())
    return _PHASES.get(first.group()) if first else None


def named_periods(answer: Answer, frame: pd.DataFrame) -> dict[str, str | None]:
    """Text label columns that name a period: column -> the date column it names one to one (``period`` ->
    ``period_start``), or None for before/after labels without a date. The text is what a reader sees; the
    date, or the before/after order, is how the periods sort."""
    kinds = _kinds(answer)
    labels = [c for c in answer.label_columns if c in frame.columns]
    dates = [c for c in labels if kinds.get(c) in {"date", "datetime"}]
    found: dict[str, str | None] = {}
    for column in labels:
        values = frame[column].dropna().astype(str)
        if kinds.get(column) != "string" or values.nunique() < 2 or not values.str.contains(_PERIOD_VALUE).all():
            continue
        pair = frame[[column, *dates]].dropna()
        # the date belongs to one period each (a period's start, or its first day per group: MIN(date))
        date = next((d for d in dates if (pair.groupby(d)[column].nunique() == 1).all()), None)
        if date is not None or all(_phase(v) is not None for v in values):
            found[column] = date
    return found


def time_columns(answer: Answer, frame: pd.DataFrame) -> list[str]:
    """The label columns that run forward in time, in the order they nest (year before month).

    A date, a year or a cohort; and with a year beside it, the month, quarter or week number (or
    month name) that completes the period: year x month is one time axis, not a month per series.
    A text column naming the periods (``before (Jul-Dec 2023)``) stands for the date it names.
    """
    kinds = _kinds(answer)
    labels = [c for c in answer.label_columns if c in frame.columns]
    times = [c for c in labels if _is_time(c, kinds.get(c, ""))]
    for name, date in named_periods(answer, frame).items():
        times = [name if c == date else c for c in times] if date in times else [name, *times]
    if any(_YEAR_NAME.search(c) for c in times):
        for c in labels:
            if c in times:
                continue
            part = kinds.get(c) == "int" and re.search(r"(month|quarter|week)", c, re.IGNORECASE)
            if part or (kinds.get(c) == "string" and _month_names(frame[c])):
                times.append(c)
    return times


def other_labels(answer: Answer, frame: pd.DataFrame, times: list[str]) -> list[str]:
    """The label columns that are not time (a region, a status); a date that a period's text names is time."""
    named = set(named_periods(answer, frame).values())
    return [c for c in answer.label_columns if c in frame.columns and c not in times and c not in named]


# --------------------------------------------------------------------------- findings


@dataclass
class Finding:
    """One sentence about an answer; ``score`` ranks it for the executive summary (bigger, stronger)."""

    question_id: str
    kind: str  # scalar, leader, share, change, trend, groups, planted, note
    text: str
    score: float = 0.0


@dataclass
class _Table:
    frame: pd.DataFrame
    kinds: dict[str, str]
    units: dict[str, str]
    names: list[str]  # per row, its label text
    measure: str | None
    labels: list[str]


def _prepare(answer: Answer, frame: pd.DataFrame | None) -> _Table:
    frame = answer.frame() if frame is None else frame.reset_index(drop=True)
    kinds = _kinds(answer)
    labels = [c for c in answer.label_columns if c in frame.columns]
    from tasks.answers import choose_labels  # local: answers imports this module

    shown = choose_labels(frame, labels) if labels else []
    named = {date for name, date in named_periods(answer, frame).items() if name in shown}
    shown = [c for c in shown if c not in named]  # "before (Jul-Dec 2023)", not "before (Jul-Dec 2023) · Jul 2023"
    namers = {c: label_namer(c, frame[c], answer.sql) for c in shown if kinds.get(c) == "int"}
    for c in shown:
        if kinds.get(c) == "date":
            stamps = pd.to_datetime(frame[c], errors="coerce").dropna()
            if len(stamps) and (stamps.dt.day == 1).all():
                namers[c] = lambda v: pd.Timestamp(v).strftime("%b %Y")
    if shown:
        joiner = " " if all("name" in c.lower() for c in shown) else " · "  # first and last name read as one
        names = [
            joiner.join(cell_text(v, c, namers.get(c)) for c, v in zip(shown, row, strict=True))
            for row in frame[shown].itertuples(index=False, name=None)
        ]
    else:
        # no label column: a leading integer that tells rows apart (a quartile, a bucket) names them
        first = frame.columns[0] if len(frame.columns) else None
        if first is not None and first != focus(answer) and kinds.get(first) == "int" and frame[first].is_unique:
            names = [f"{human(first)} {cell_text(v)}" for v in frame[first]]
        else:
            names = [f"row {i + 1}" for i in range(len(frame))]
    return _Table(frame, kinds, answer.units, names, focus(answer), labels)


def analyse(answer: Answer, frame: pd.DataFrame | None = None) -> list[Finding]:
    """The findings of one answer, strongest facts first, the planted finding last.

    Args:
        answer: the answer (columns, types, units, labels, measure, scenario check).
        frame: the full query result when the answer keeps only its first rows; else the stored rows.
    """
    qid = answer.question_id
    if answer.error:
        return [Finding(qid, "note", "This question could not be answered on the generated data; see the error.")]
    table = _prepare(answer, frame)
    data = table.frame
    findings: list[Finding] = []
    if data.empty:
        findings.append(Finding(qid, "note", "The query returned no rows on this data."))
    elif len(data) == 1 and (answer.answer_shape == "scalar" or not table.labels or table.measure is None):
        findings.append(_scalar(answer, table))
    elif table.measure is None:
        findings.append(Finding(qid, "note", f"The result lists {len(data):,} rows."))
    else:
        findings += _describe(answer, table)
    if answer.scenario_finding:
        check = answer.scenario_check
        findings.append(Finding(qid, "planted", answer.scenario_finding, 2.0 if check and check.shown else 0.1))
    return findings


def _scalar(answer: Answer, table: _Table) -> Finding:
    row = table.frame.iloc[0]
    parts = [f"{human(c)} = {_value_text(c, row[c], table, compact=_large(row[c]))}" for c in table.frame.columns]
    text = "The answer is " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + "."
    return Finding(answer.question_id, "scalar", text, 0.3)


def _large(value: Any) -> bool:
    """Millions read as ``$139.88M`` even in an exact answer's sentence (the table keeps every digit)."""
    try:
        return abs(float(value)) >= 1_000_000
    except (TypeError, ValueError):
        return False


def _value_text(column: str, value: Any, table: _Table, **options: Any) -> str:
    """A value in a sentence: money without cents from 1,000 up, millions as ``1.23M``."""
    options.setdefault("compact", True)
    if is_year(column, value):
        return str(int(float(value)))
    kind = table.kinds.get(column, "")
    if kind == "int" and column in table.labels:
        return cell_text(value, column, label_namer(column, table.frame[column]))
    return fmt(value, table.units.get(column), **options)


def _describe(answer: Answer, table: _Table) -> list[Finding]:
    qid = answer.question_id
    data, measure = table.frame, table.measure
    assert measure is not None
    times = time_columns(answer, data)
    others = other_labels(answer, data, times)
    findings: list[Finding] = []
    shape = answer_shape(answer)
    if shape.kind in {"lines", "stacked100", "clustered"} and shape.group and times:
        findings += _group_trends(answer, table, shape.category or times, shape.group, shape.measure or measure)
    elif times and not others:
        findings += _trend(answer, table, times, measure)
    elif len(_period_series(answer)) >= 2 and not times:
        pass  # before/after columns: the comparison below is the finding
    elif _CHANGE_NAME.search(measure):
        if not _period_series(answer):  # else the before/after sentence below names the falls and rises
            change = _change_column(answer, table, measure)
            findings += [change] if change else _leader(answer, table, measure)
    elif shape.kind == "clustered" and len(shape.series) >= 2 and set(shape.series) <= set(share_columns(answer)):
        for column in shape.series:
            findings += _shares(answer, table, column)
    elif shape.kind == "share":
        base = answer.measure if answer.measure and _additive(answer, answer.measure) else None
        share = _share(answer, table, base) if base else None
        findings += _leader(answer, table, base) + [share] if share and base else _shares(answer, table, measure)
    else:
        findings += _leader(answer, table, measure)
        if _additive(answer, measure) and not times:
            share = _share(answer, table, measure)
            if share:
                findings.append(share)
    periods = _period_series(answer)
    if len(periods) >= 2:
        findings.append(_before_after(answer, table, periods))
    target = _against_target(answer, table, times)
    if target is not None:
        findings.insert(0, target)
    for other in [c for c in _numeric(answer) if c != measure and _CHANGE_NAME.search(c) and not periods]:
        change = _change_column(answer, table, other)
        if change:
            change.score *= 0.5  # a side column (month-over-month change beside revenue): not the headline
            findings.append(change)
    cagr = [c for c in answer.columns if "cagr" in c.lower() and c != measure]
    for column in cagr[:1]:
        stated = _change_column(answer, table, column)
        if stated is not None and _values(table, column).dropna().nunique() == 1:
            # the CAGR the question asks for comes first; the trend's own growth figure would contradict it
            rest = [f for f in findings if f.text != stated.text]
            findings = [stated, *rest]
            continue
        if len(data) <= 6:
            unit = table.units.get(column) or "%"
            items = [f"{n} {fmt(v, unit)}" for n, v in zip(table.names, data[column], strict=True)]
            findings.append(Finding(qid, "change", f"Compound annual growth: {'; '.join(items)}.", 0.5))
    return findings


def _measure_name(answer: Answer, column: str) -> str:
    """A measure in words; a bare rate column (``per_100k``) names what it is a rate of (admissions per 100k)."""
    name = human(column)
    if name.startswith("per ") and answer.measure and answer.measure != column:
        return f"{human(answer.measure)} {name}"
    return name


def _without_unit(text: str, unit: str | None) -> str:
    """The first number of a range without its unit word, said once at the end: "297 to 391 admissions"."""
    return text.removesuffix(f" {unit}") if unit else text


def _values(table: _Table, column: str) -> pd.Series:
    return pd.to_numeric(table.frame[column], errors="coerce")


def _leader(answer: Answer, table: _Table, measure: str) -> list[Finding]:
    values = _values(table, measure)
    valid = values.dropna()
    if valid.empty:
        return [Finding(answer.question_id, "note", f"{human(measure).capitalize()} is empty in every row.")]
    unit = table.units.get(measure)
    if _ASKS_LOWEST.search(answer.question) and not _RANK_WORDS_HIGH.search(answer.question):
        return [_laggard(answer, table, measure, valid)]
    order = valid.sort_values(ascending=False, kind="stable")
    top, low = order.index[0], order.index[-1]
    name = _measure_name(answer, measure)
    text = f"Highest {name}: {_value_text(measure, values[top], table)} ({table.names[top]})"
    score = 0.2
    if len(order) >= 2:
        second = order.index[1]
        gap = values[top] - values[second]
        if unit == "%":
            gap_text = f"{gap:,.1f} percentage points"
            score = min(1.0, abs(gap) / 20)
        else:
            relative = 100 * gap / abs(values[second]) if values[second] else None
            gap_text = fmt(gap, unit, compact=True) + (f" or {relative:.1f}%" if relative is not None else "")
            score = min(1.0, abs(relative or 0) / 50)
        text += f", {gap_text} ahead of {table.names[second]} ({_value_text(measure, values[second], table)})"
        if len(order) >= 3:
            text += f"; lowest: {_value_text(measure, values[low], table)} ({table.names[low]})"
            if unit != "%" and values[low] > 0 and values[top] / values[low] >= 1.5:
                text += f"; the top is {values[top] / values[low]:.1f} times the lowest"
            elif unit == "%":
                text += f", {values[top] - values[low]:,.1f} points below the top"
    return [Finding(answer.question_id, "leader", text + ".", score)]


_ASKS_LOWEST = re.compile(r"\b(lowest|least|bottom|worst|fewest|slowest|lagging|weakest)\b", re.I)
_RANK_WORDS_HIGH = re.compile(r"\b(highest|most|top|best|largest|biggest)\b", re.I)


def _laggard(answer: Answer, table: _Table, measure: str, valid: pd.Series) -> Finding:
    """A question about the lowest (the five districts with the lowest coverage): the lowest first, with its
    distance from the average of the rows and from the next one up."""
    order = valid.sort_values(kind="stable")
    low, unit = order.index[0], table.units.get(measure)
    name = _measure_name(answer, measure)
    text = f"Lowest {name}: {_value_text(measure, valid[low], table)} ({table.names[low]})"
    mean = valid.mean()
    below = mean - valid[low]
    score = min(1.0, abs(below) / (20 if unit == "%" else max(abs(mean), 1e-9) / 2))
    gap = f"{below:,.1f} points" if unit == "%" else fmt(below, unit, compact=True)
    text += f", {gap} below the average of the {len(valid)} shown ({_value_text(measure, mean, table)})"
    if len(order) >= 2:
        second = order.index[1]
        text += f"; next is {table.names[second]} ({_value_text(measure, valid[second], table)})"
    return Finding(answer.question_id, "leader", text + ".", score)


def _shares(answer: Answer, table: _Table, column: str) -> list[Finding]:
    """A share column (``*_share_pct``): the largest share, the runner-up and the smallest."""
    values = _values(table, column).dropna()
    if len(values) < 2:
        return _leader(answer, table, column)
    order = values.sort_values(ascending=False, kind="stable")
    top, second, low = order.index[0], order.index[1], order.index[-1]
    text = (
        f"{table.names[top]} has the largest {share_label(answer, column)} ({fmt(values[top], '%')}), followed by "
        f"{table.names[second]} ({fmt(values[second], '%')})"
    )
    if len(order) >= 3:
        text += f"; the smallest is {table.names[low]} ({fmt(values[low], '%')})"
    return [Finding(answer.question_id, "share", text + ".", min(1.0, values[top] / 60))]


_LIMITED = re.compile(r"(?i)\bLIMIT\s+\d+|\bQUALIFY\b|\bWHERE\s+rank", re.DOTALL)


def _partial(answer: Answer) -> bool:
    """A top-N result (LIMIT, a rank filter) or a truncated one: its rows are not the whole, so shares of
    their sum would be wrong ('33.7% of the total' for a club that has 22% of all revenue)."""
    return answer.truncated or bool(_LIMITED.search(answer.sql or ""))


def _share(answer: Answer, table: _Table, measure: str) -> Finding | None:
    if _partial(answer):
        column = next((c for c in _numeric(answer) if "share" in c.lower()), None)
        found = _shares(answer, table, column) if column else []
        return next((f for f in found if f.kind == "share"), None)
    values = _values(table, measure).dropna()
    if values.empty or (values < 0).any() or values.sum() <= 0 or len(values) < 2:
        return None
    total = values.sum()
    top = values.idxmax()
    share = 100 * values[top] / total
    text = (
        f"{table.names[top]} accounts for {share:.1f}% of the total {human(measure)} "
        f"({fmt(total, table.units.get(measure), compact=True)})"
    )
    order = values.sort_values(ascending=False, kind="stable")
    if len(order) >= 2:
        second = order.index[1]
        text += f", followed by {table.names[second]} ({100 * values[second] / total:.1f}%)"
    if len(values) > 3:
        text += f"; the top 3 together account for {100 * values.nlargest(3).sum() / total:.1f}%"
        low = order.index[-1]
        text += f" and the smallest, {table.names[low]}, for {100 * values[low] / total:.1f}%"
    return Finding(answer.question_id, "share", text + ".", min(1.0, share / 60))


def _sorted_by_time(answer: Answer, table: _Table, periods: list[str]) -> pd.DataFrame:
    keys = _sort_key(answer, table.frame, periods)
    data = table.frame.assign(_name=table.names)
    order = keys.dropna().sort_values(list(keys.columns), kind="stable").index
    return data.loc[order]


def _period_text(table: _Table, period: str, value: Any) -> str:
    if "quarter" in period.lower() and table.kinds.get(period) == "int" and not _missing(value):
        return f"Q{int(value)}"
    if table.kinds.get(period) in {"date", "datetime"}:
        stamp = pd.Timestamp(value)
        if "month" in period.lower() or stamp.day == 1:
            return stamp.strftime("%b %Y")
        return stamp.date().isoformat()
    return cell_text(value, period, label_namer(period, table.frame[period]))


def _year_last(periods: list[str]) -> list[str]:
    """Period columns in reading order: ``Q3 2024``, ``May 2024`` (the year after the part of it)."""
    return sorted(periods, key=lambda c: bool(_YEAR_NAME.search(c)) and len(periods) > 1)


def _trend(answer: Answer, table: _Table, periods: list[str], measure: str) -> list[Finding]:
    qid = answer.question_id
    period = periods[0]
    data = _sorted_by_time(answer, table, periods)
    values = pd.to_numeric(data[measure], errors="coerce")
    keep = values.notna().to_numpy()
    data, values = data[keep], values[keep]
    if len(values) < 2:
        return _leader(answer, table, measure)
    unit = table.units.get(measure)
    first, last = values.iloc[0], values.iloc[-1]

    def when(position: int) -> str:
        return " ".join(_period_text(table, c, data[c].iloc[position]) for c in _year_last(periods))

    start_value = _without_unit(_value_text(measure, first, table, compact=True), unit)

    start, end = when(0), when(-1)
    name = _measure_name(answer, measure)
    findings = []
    if unit == "%":
        change = f"{last - first:+,.1f} percentage points"
        score = min(1.0, abs(last - first) / 20)
    elif first <= 0 or last < 0:
        # a gap that crosses zero (-12.1 to +5.1 points) has no percentage change; its difference is the change
        change = f"{fmt(last - first, unit, signed=True)}"
        score = 0.3
    elif first:
        pct = 100 * (last - first) / abs(first)
        change = fmt(pct, "%", signed=True)
        score = min(1.0, abs(pct) / 50)
        years = _years_between(table, period, data[period].iloc[0], data[period].iloc[-1])
        stated = any("cagr" in c.lower() for c in answer.columns)  # the query's own CAGR is the one to report
        if years and years >= 2 and first > 0 and last > 0 and not stated:
            cagr = 100 * ((last / first) ** (1 / years) - 1)
            change += f", a compound annual growth of {fmt(cagr, '%', signed=True)} a year"
    else:
        change, score = "from zero", 0.2
    findings.append(
        Finding(
            qid,
            "change",
            f"From {start} to {end}, {name} went from {start_value} to "
            f"{_value_text(measure, last, table, compact=True)} ({change}).",
            score,
        )
    )
    mean = values.mean()
    if len(values) >= 3 and mean:
        slope = np.polyfit(np.arange(len(values), dtype=float), values.to_numpy(dtype=float), 1)[0]
        per_period = 100 * slope / abs(mean)
        direction = "rising" if per_period > 0.5 else "falling" if per_period < -0.5 else "flat"
        peak = int(np.argmax(values.to_numpy()))
        trough = int(np.argmin(values.to_numpy()))
        findings.append(
            Finding(
                qid,
                "trend",
                f"The trend is {direction} ({fmt(per_period, '%', signed=True)} of the average per period); the peak "
                f"is {when(peak)} at "
                f"{_value_text(measure, values.iloc[peak], table, compact=True)} and the low "
                f"{when(trough)} at "
                f"{_value_text(measure, values.iloc[trough], table, compact=True)}.",
                min(1.0, abs(per_period) / 5) * 0.8,
            )
        )
    return findings


def _years_between(table: _Table, period: str, first: Any, last: Any) -> float | None:
    if table.kinds.get(period) in {"date", "datetime"}:
        return (pd.Timestamp(last) - pd.Timestamp(first)).days / 365.25
    if is_year(period, first) and is_year(period, last):
        return float(last) - float(first)
    return None


def _in_period(text: str) -> str:
    """``In Jun 2024``; a period named by its phase reads ``After (Jan-Jun 2024)``."""
    return text[:1].upper() + text[1:] if _phase(text) is not None else f"In {text}"


def _group_trends(answer: Answer, table: _Table, times: list[str], group: str, measure: str) -> list[Finding]:
    """For a long result (period x group): which group changed most from the first to the last period."""
    qid = answer.question_id
    data = table.frame.copy()
    unit = table.units.get(measure)
    values = pd.to_numeric(data[measure], errors="coerce")
    keys = _sort_key(answer, data, times)
    data = data.assign(_v=values, _k=keys.apply(tuple, axis=1).rank(method="dense"))
    firsts = data["_k"].min()
    lasts = data["_k"].max()
    start = data.loc[data["_k"] == firsts].groupby(group)["_v"].sum(min_count=1)
    end = data.loc[data["_k"] == lasts].groupby(group)["_v"].sum(min_count=1)
    both = pd.DataFrame({"start": start, "end": end}).dropna()
    if both.empty or firsts == lasts:
        return _leader(answer, table, measure)
    name = _measure_name(answer, measure)
    first_row, last_row = data.loc[data["_k"] == firsts].iloc[0], data.loc[data["_k"] == lasts].iloc[0]
    first_text = " ".join(_period_text(table, c, first_row[c]) for c in _year_last(times))
    last_text = " ".join(_period_text(table, c, last_row[c]) for c in _year_last(times))
    if unit == "%":
        both["change"] = both["end"] - both["start"]

        def change_text(v: float) -> str:
            return f"{v:+,.1f} points"
    else:
        both = both[both["start"] != 0]
        both["change"] = 100 * (both["end"] - both["start"]) / both["start"].abs()

        def change_text(v: float) -> str:
            return fmt(v, "%", signed=True)

    if both.empty:
        return _leader(answer, table, measure)
    both = both.sort_values("change", ascending=False)
    rise, fall = both.index[0], both.index[-1]

    def moved(group: Any) -> str:
        start = _value_text(measure, both.loc[group, "start"], table, compact=True)
        end = _value_text(measure, both.loc[group, "end"], table, compact=True)
        return f"{start} to {end}, {change_text(both.loc[group, 'change'])}"

    top, bottom = both.loc[rise, "change"], both.loc[fall, "change"]
    most = "rose most" if top > 0 else "fell least"
    text = f"From {first_text} to {last_text}, {name} {most} for {cell_text(rise)} ({moved(rise)})"
    if len(both) >= 2:
        least = "fell most" if bottom < 0 else "rose least"
        text += f" and {least} for {cell_text(fall)} ({moved(fall)})"
    spread = abs(both["change"].iloc[0] - both["change"].iloc[-1])
    findings = [Finding(qid, "groups", text + f", across {len(both)} {human(group)} values.", min(1.0, spread / 30))]
    latest = both["end"].sort_values(ascending=False)
    if len(latest) >= 2:
        findings.append(
            Finding(
                qid,
                "leader",
                f"{_in_period(last_text)}, {cell_text(latest.index[0])} leads with {name} of "
                f"{_value_text(measure, latest.iloc[0], table, compact=True)}, ahead of {cell_text(latest.index[1])} "
                f"({_value_text(measure, latest.iloc[1], table, compact=True)}).",
                0.2,
            )
        )
    return findings


def _before_after(answer: Answer, table: _Table, periods: list[str]) -> Finding:
    first, last = periods[0], periods[-1]
    a, b = _values(table, first), _values(table, last)
    unit = table.units.get(first)
    additive = _additive(answer, first)
    total_a, total_b = (a.sum(), b.sum()) if additive else (a.mean(), b.mean())
    words = [human(first), human(last)]
    total = (
        f"{'In total' if additive else f'Averaged over the {len(a.dropna())} rows'}, {words[0]} "
        f"{fmt(total_a, unit, compact=True)} against {words[1]} {fmt(total_b, unit, compact=True)}"
    )
    score = 0.3
    if total_a:
        pct = 100 * (total_b - total_a) / abs(total_a)
        total += f" ({fmt(pct, '%', signed=True)})"
        score = min(1.0, abs(pct) / 30)
    change = 100 * (b - a) / a.where(a != 0)
    if change.notna().sum() < 2:
        return Finding(answer.question_id, "change", total + ".", score)
    # the rows that moved most lead (which club lost the most); the total follows as context
    hi, lo = change.idxmax(), change.idxmin()
    low_word = "fell the most" if change[lo] < 0 else "rose the least"
    high_word = "rose the most" if change[hi] > 0 else "fell the least"

    def moved(row: int) -> str:
        start, end = _without_unit(fmt(a[row], unit, compact=True), unit), fmt(b[row], unit, compact=True)
        return f"{fmt(change[row], '%', signed=True)}, {start} to {end}"

    text = (
        f"{table.names[lo]} {low_word} ({moved(lo)}) and {table.names[hi]} {high_word} ({moved(hi)}), "
        f"from {words[0]} to {words[1]}; {total[0].lower()}{total[1:]}"
    )
    score = max(score, min(1.0, (change[hi] - change[lo]) / 30))
    return Finding(answer.question_id, "change", text + ".", score)


_LOWER_IS_BETTER = re.compile(r"(delay|cost|churn|wait|late|days|minutes|hours|defect|complaint|cancel)", re.I)


def _against_target(answer: Answer, table: _Table, times: list[str]) -> Finding | None:
    """How often the actual met its target, and where it fell furthest short (lower is better for delays)."""
    pair = target_pair(answer)
    if pair is None:
        return None
    actual, target = pair
    a, t = _values(table, actual), _values(table, target)
    known = a.notna() & t.notna()
    if not known.any():
        return None
    lower = bool(_LOWER_IS_BETTER.search(actual))
    gap = ((t - a) if lower else (a - t))[known]
    met, total = int((gap >= 0).sum()), int(known.sum())
    worst, best = gap.idxmin(), gap.idxmax()
    period = next((w for w in ("month", "quarter", "week", "year") if any(w in c.lower() for c in times)), None)
    counted = f"{total} {period}s" if period else f"{total} rows"

    def versus(row: int) -> str:
        return f"{_value_text(actual, a[row], table)} against {_value_text(target, t[row], table)}"

    text = f"{human(actual).capitalize()} met its target in {met} of {counted}"
    if met < total:
        text += f"; the widest shortfall is {table.names[worst]} ({versus(worst)})"
    if met:
        text += f"; the best is {table.names[best]} ({versus(best)})"
    return Finding(answer.question_id, "target", text + ".", min(1.0, 0.4 + 0.6 * (1 - met / total)))


def _change_column(answer: Answer, table: _Table, column: str) -> Finding | None:
    change = _values(table, column)
    unit = table.units.get(column) or ("%" if "cagr" in column.lower() else None)
    name = human(column)
    known = change.dropna()
    if len(known) > 1 and known.nunique() == 1:
        # one figure repeated on every row (a CAGR over the whole period): state it once
        return Finding(answer.question_id, "change", f"{name}: {fmt(known.iloc[0], unit, signed=True)}.", 0.9)
    if len(known) == 1:
        row = known.index[0]
        return Finding(
            answer.question_id,
            "change",
            f"{name.capitalize()}: {fmt(known[row], unit, signed=True)} ({table.names[row]}).",
            min(1.0, abs(float(known[row])) / 30),
        )
    if len(known) < 2:
        return None
    hi, lo = change.idxmax(), change.idxmin()
    within = "" if name in {"change", "growth", "delta", "diff"} else f" in {name}"
    if change[lo] < 0 <= change[hi] or change[hi] <= 0:
        text = f"The largest fall{within} is {table.names[lo]} ({fmt(change[lo], unit, signed=True)})"
        if change[hi] > 0:
            text += f"; the largest rise is {table.names[hi]} ({fmt(change[hi], unit, signed=True)})"
        else:
            text += f"; the smallest fall is {table.names[hi]} ({fmt(change[hi], unit, signed=True)})"
    else:
        text = (
            f"{name.capitalize()} is highest for {table.names[hi]} ({fmt(change[hi], unit, signed=True)}) and lowest "
            f"for {table.names[lo]} ({fmt(change[lo], unit, signed=True)})"
        )
    spread = float(change[hi] - change[lo])
    return Finding(answer.question_id, "change", text + ".", min(1.0, abs(spread) / 30))


# --------------------------------------------------------------------------- text and summary


def analysis_text(findings: list[Finding]) -> str:
    """The answer's analysis: its findings as one paragraph, the planted finding as a second one."""
    narrative = " ".join(f.text for f in findings if f.kind != "planted")
    planted = [f.text for f in findings if f.kind == "planted"]
    return "\n\n".join([narrative, *planted]) if planted else narrative


def headline(answer: Answer) -> str:
    """The answer's single strongest sentence (a planted finding only when it is all there is)."""
    findings = [f for f in analyse(answer) if f.kind != "planted"] or analyse(answer)
    return max(findings, key=lambda f: f.score).text if findings else ""


def executive_summary(answers: AnswerKey) -> list[Finding]:
    """The 4-6 strongest findings across the answers, at most one per question, planted findings shown first.

    A planted finding the answer shows counts as strong (it is the story the data was built to
    tell); otherwise each question offers its best fact, ranked by size (a change, a gap, a share).
    """
    candidates: list[Finding] = []
    for answer in answers.answers:
        if answer.error:
            continue
        findings = analyse(answer)
        facts = [f for f in findings if f.kind not in {"planted", "note"}]
        if not facts:
            continue
        check = answer.scenario_check
        shown = check is not None and bool(check.shown)
        best = max(facts, key=lambda f: f.score)
        if shown and check.evidence:
            # the story the data was built to tell, in the numbers that show it (a first-to-last trend can
            # miss a summer collapse in the middle of the window)
            evidence = check.evidence[0].upper() + check.evidence[1:]
            best = Finding(answer.question_id, "planted", evidence.rstrip(".") + ".", max(best.score, facts[0].score))
        score = best.score + (1.0 if shown else 0.0)
        candidates.append(Finding(answer.question_id, best.kind, best.text, score))
    candidates.sort(key=lambda f: -f.score)
    seen: set[str] = set()
    # two questions over one result (a monthly trend and its month-over-month change) give one sentence
    candidates = [f for f in candidates if not (f.text in seen or seen.add(f.text))]
    chosen = candidates[:SUMMARY_MAX]
    return chosen if len(chosen) >= SUMMARY_MIN else candidates[:SUMMARY_MIN]


def round_or_nan(value: Any) -> float:
    """A number or NaN (for chart data), never an exception."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


# --------------------------------------------------------------------------- what a chart plots


@dataclass
class ChartData:
    """The numbers one chart plots, in drawing order: categories along the axis, one list per series.

    ``unit`` is the plotted values' unit (``%`` for shares); ``omitted`` counts the categories or
    groups left out to keep the chart readable (named in the title).
    """

    categories: list[str]
    series: dict[str, list[float]]
    unit: str | None
    omitted: int = 0
    omitted_what: str = ""


def row_names(answer: Answer, frame: pd.DataFrame | None = None) -> list[str]:
    """One label per row (weekday and month names, ``Jan 2024`` for months, names joined by a space)."""
    return _prepare(answer, frame).names


def _column_text(answer: Answer, frame: pd.DataFrame, column: str) -> list[str]:
    kinds = _kinds(answer)
    namer = label_namer(column, frame[column], answer.sql) if kinds.get(column) == "int" else None
    if namer is None and kinds.get(column) == "int" and "quarter" in column.lower():
        namer = lambda v: f"Q{int(v)}"  # noqa: E731 - a one-line label rule
    if kinds.get(column) == "date":
        stamps = pd.to_datetime(frame[column], errors="coerce").dropna()
        if len(stamps) and (stamps.dt.day == 1).all():
            namer = lambda v: pd.Timestamp(v).strftime("%b %Y")  # noqa: E731 - a one-line label rule
    return [cell_text(v, column, namer) for v in frame[column]]


def _sort_key(answer: Answer, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    kinds = _kinds(answer)
    named = named_periods(answer, frame)
    keys = {}
    for column in columns:
        if named.get(column):
            dates = pd.to_datetime(frame[named[column]], errors="coerce")
            keys[column] = dates.groupby(frame[column]).transform("min")  # one key per period
        elif column in named:
            keys[column] = frame[column].map(_phase)
        elif kinds.get(column) in {"date", "datetime"}:
            keys[column] = pd.to_datetime(frame[column], errors="coerce")
        elif _month_names(frame[column]):
            keys[column] = frame[column].astype(str).str.strip().str.lower().map(_MONTH_INDEX)
        else:
            numbers = pd.to_numeric(frame[column], errors="coerce")
            keys[column] = numbers if numbers.notna().all() else frame[column].astype(str)
    return pd.DataFrame(keys)


def chart_data(answer: Answer, shape: Shape | None = None) -> ChartData | None:
    """What the chart of ``answer`` plots (see ``answer_shape``); None when nothing is drawn."""
    shape = shape or answer_shape(answer)
    if shape.kind in {"none", "scatter"}:
        return None
    frame = answer.frame()
    if shape.group and shape.measure:
        return _pivot(answer, frame, shape)
    if shape.series:
        names = row_names(answer, frame)
        order = list(range(len(frame)))
        if len(order) > MAX_CATEGORIES:
            order = order[:MAX_CATEGORIES]
        series = {human(c): [round_or_nan(frame[c].iloc[i]) for i in order] for c in shape.series}
        return ChartData([names[i] for i in order], series, shape.unit, len(frame) - len(order), "rows")
    measure = shape.measure or answer.measure
    assert measure is not None
    values = pd.to_numeric(frame[measure], errors="coerce")
    names = row_names(answer, frame)
    if shape.kind == "line":
        keys = _sort_key(answer, frame, shape.category)
        order = keys.sort_values(list(keys.columns), kind="stable").index.tolist()
        return ChartData(
            [names[i] for i in order], {human(measure): [round_or_nan(values[i]) for i in order]}, shape.unit
        )
    if shape.kind == "bars":
        order = list(range(len(frame)))
        if shape.order:
            order = _sort_key(answer, frame, [shape.order]).sort_values(shape.order, kind="stable").index.tolist()
        shown = order[: MAX_CATEGORIES * 2]
        return ChartData(
            [names[i] for i in shown], {human(measure): [round_or_nan(values[i]) for i in shown]}, shape.unit,
            len(order) - len(shown), "rows",
        )  # fmt: skip
    if shape.kind == "share":
        if shape.measure and answer.units.get(shape.measure) == "%":
            shares = values
        else:
            total = values[values > 0].sum()
            shares = 100 * values / total if total else values
        order = shares.sort_values(ascending=False, kind="stable").index.tolist()
        limit = 7 if shape.pie else MAX_CATEGORIES
        cats = [names[i] for i in order[:limit]]
        data = [round_or_nan(shares[i]) for i in order[:limit]]
        if len(order) > limit:
            cats.append(f"Other ({len(order) - limit})")
            data.append(round_or_nan(shares[order[limit:]].sum()))
        return ChartData(cats, {share_label(answer, measure): data}, "%")
    # ranking: largest first (drawn top to bottom), at most MAX_CATEGORIES
    ascending = bool(_ASKS_LOWEST.search(answer.question))
    order = values.sort_values(ascending=ascending, kind="stable", na_position="last").index.tolist()
    shown = order[:MAX_CATEGORIES]
    return ChartData(
        [names[i] for i in shown], {human(measure): [round_or_nan(values[i]) for i in shown]}, shape.unit,
        len(order) - len(shown), "rows",
    )  # fmt: skip


def _pivot(answer: Answer, frame: pd.DataFrame, shape: Shape) -> ChartData:
    assert shape.group and shape.measure
    category = shape.category
    work = pd.DataFrame(
        {
            "_cat": [
                " ".join(parts)
                for parts in zip(*[_column_text(answer, frame, c) for c in _year_last(category)], strict=True)
            ],
            "_group": _column_text(answer, frame, shape.group),
            "_value": pd.to_numeric(frame[shape.measure], errors="coerce"),
        }
    )
    keys = _sort_key(answer, frame, category)
    work["_order"] = keys.apply(tuple, axis=1).rank(method="dense") if len(category) > 1 else keys[category[0]]
    order = work.drop_duplicates("_cat").sort_values("_order", kind="stable")["_cat"].tolist()
    totals = work.groupby("_group")["_value"].apply(lambda v: v.abs().sum()).sort_values(ascending=False)
    groups = totals.index.tolist()
    kept = groups[:MAX_SERIES]
    wide = work.pivot_table(index="_cat", columns="_group", values="_value", aggfunc="sum").reindex(order)
    series = {g: [round_or_nan(v) for v in wide[g].tolist()] for g in kept}
    return ChartData(order, series, shape.unit, len(groups) - len(kept), human(shape.group))
