"""Planted messiness: duplicates, casing, whitespace, missing values, outliers, date formats and typos.

Each ``MessinessRule`` of the spec touches ``round(rate * rows)`` rows of its table, chosen from a
stream derived from the challenge seed and variant (same spec -> same mess), with whole-column
operations only. Every touched cell (or duplicated row) is one ``IssueLogEntry``; the log matches
the returned data exactly, and two rules never touch the same cell.

Typing: messiness keeps every column's spec type except ``date_formats``, which turns its date or
datetime column into text (untouched rows in ISO form, touched rows in another format). Write such
frames with ``to_arrow_lenient``: each column keeps its spec Arrow type when its values allow and
falls back to text otherwise, so the CSV holds exactly the text a learner must clean. Readers type a
CSV from the spec the same way (a column whose text does not parse stays text).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.errors import GenerationError, InputError
from schemas.quality import IssueLogEntry
from schemas.spec import ChallengeSpec, MessinessRule, TableSpec
from tasks.engine.seed import rng_for
from tasks.engine.types import ARROW_TYPES

__all__ = [
    "ISSUE_LOG_COLUMNS",
    "apply_messiness",
    "format_values",
    "issue_log_to_csv",
    "read_issue_log",
    "row_keys",
    "to_arrow_lenient",
]

ISSUE_LOG_COLUMNS = ["table", "row_key", "column", "kind", "original_value", "new_value"]
TEXT_TYPES = ("string", "category")
NUMERIC_TYPES = ("int", "float", "decimal")
DATE_TYPES = ("date", "datetime")
# the kinds each column type accepts; anything else is a spec problem reported before any data changes
_KIND_TYPES = {
    "casing": TEXT_TYPES,
    "whitespace": TEXT_TYPES,
    "typos": TEXT_TYPES,
    "outliers": NUMERIC_TYPES,
    "date_formats": DATE_TYPES,
}
# other ways people write dates; the untouched rows stay ISO
DATE_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d-%b-%Y", "%Y%m%d", "%B %d, %Y", "%d.%m.%Y")
DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y%m%dT%H%M%S", "%d-%b-%Y %H:%M:%S")


def apply_messiness(
    spec: ChallengeSpec, tables: dict[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], list[IssueLogEntry]]:
    """Plant every messiness rule of ``spec`` into copies of ``tables``.

    Value rules run in spec order, then duplicates (so duplicated rows carry the planted values of
    their originals).

    Args:
        spec: the challenge spec; its ``messiness`` list says what to plant, where and how often.
        tables: the clean tables from ``generate_dataset`` (not modified).

    Returns:
        The messy tables and the issue log (table, row key, column, kind, original and new value).

    Raises:
        GenerationError: a rule names a column whose type cannot carry that kind of mess.
    """
    _check_rules(spec)
    out = dict(tables)
    log: list[IssueLogEntry] = []
    touched: dict[tuple[str, str], np.ndarray] = {}
    ordered = [(i, r) for i, r in enumerate(spec.messiness) if r.kind != "duplicates"]
    ordered += [(i, r) for i, r in enumerate(spec.messiness) if r.kind == "duplicates"]
    for index, rule in ordered:
        table = spec.table(rule.table)
        frame = out[rule.table]
        rng = rng_for(spec.challenge.seed, spec.challenge.variant, "messiness", index, rule.kind, rule.table)
        if rule.kind == "duplicates":
            frame, entries = _duplicates(frame, table, rule, rng)
        else:
            used = touched.setdefault((rule.table, rule.column), np.zeros(len(frame), dtype=bool))
            frame, entries = _values(frame, table, rule, rng, used)
        out[rule.table] = frame
        log.extend(entries)
    return out, log


def _check_rules(spec: ChallengeSpec) -> None:
    problems = []
    for i, rule in enumerate(spec.messiness):
        if rule.kind not in _KIND_TYPES:
            continue
        column = spec.table(rule.table).column(rule.column)
        allowed = _KIND_TYPES[rule.kind]
        if column.type not in allowed:
            problems.append(
                f"messiness[{i}]: {rule.kind} needs a {' or '.join(allowed)} column; "
                f"'{rule.table}.{rule.column}' is {column.type}; point the rule at another column"
            )
    if problems:
        raise GenerationError("; ".join(problems), "messiness")


# --------------------------------------------------------------------------- row keys and value text


def row_keys(frame: pd.DataFrame, table: TableSpec) -> pd.Series:
    """Each row's key as text: primary-key parts joined by ``|``, or ``#<row number>`` without a key."""
    if not table.primary_key or any(k not in frame.columns for k in table.primary_key):
        return pd.Series([f"#{i}" for i in range(len(frame))], index=frame.index, dtype=object)
    parts = [format_values(frame[k], table.column(k).type) for k in table.primary_key]
    key = parts[0]
    for part in parts[1:]:
        key = key + "|" + part
    return key


def format_values(values: pd.Series, column_type: str) -> pd.Series:
    """Values as the text the issue log and the CSV use ('' for missing)."""
    missing = values.isna().to_numpy()
    if column_type in DATE_TYPES and pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d" if column_type == "date" else "%Y-%m-%d %H:%M:%S")
    elif column_type in ("float", "decimal") and pd.api.types.is_float_dtype(values):
        text = values.map(repr)
    else:
        text = values.astype(object).map(str)
    text = text.astype(object)
    text[missing] = ""
    return text


# --------------------------------------------------------------------------- rules


def _pick(eligible: np.ndarray, rate: float, n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Row positions to touch: ``round(rate * rows)`` (at least one), from the eligible ones."""
    candidates = np.flatnonzero(eligible)
    k = min(len(candidates), max(1, round(rate * n_rows))) if n_rows else 0
    return np.sort(rng.choice(candidates, size=k, replace=False)) if k else np.array([], dtype=np.int64)


def _duplicates(
    frame: pd.DataFrame, table: TableSpec, rule: MessinessRule, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[IssueLogEntry]]:
    rows = _pick(np.ones(len(frame), dtype=bool), rule.rate, len(frame), rng)
    if not len(rows):
        return frame, []
    copies = frame.iloc[rows]
    # each copy goes right after its original, where a double submission would put it
    order = np.concatenate([np.arange(len(frame)), rows]).astype(float)
    order[len(frame) :] += 0.5
    messy = pd.concat([frame, copies], ignore_index=True).iloc[np.argsort(order, kind="stable")]
    keys = row_keys(copies, table)
    entries = [IssueLogEntry(table=table.name, row_key=k, kind="duplicates", new_value="duplicate row") for k in keys]
    return messy.reset_index(drop=True), entries


def _values(
    frame: pd.DataFrame, table: TableSpec, rule: MessinessRule, rng: np.random.Generator, used: np.ndarray
) -> tuple[pd.DataFrame, list[IssueLogEntry]]:
    column = table.column(rule.column)
    values = frame[rule.column]
    eligible = values.notna().to_numpy() & ~used
    if rule.kind in ("casing", "typos"):
        text = values.astype(object).where(values.notna(), "").map(str)
        if rule.kind == "casing":
            eligible &= (text.str.upper() != text.str.lower()).to_numpy()
        else:
            eligible &= (text.str.len() >= 2).to_numpy()
    rows = _pick(eligible, rule.rate, len(frame), rng)
    if not len(rows):
        return frame, []
    used[rows] = True
    original = values.iloc[rows]
    match rule.kind:
        case "missing":
            new = pd.Series([None] * len(rows), index=original.index, dtype=object)
        case "casing":
            new = _recase(original.astype(str), rng)
        case "whitespace":
            new = _pad(original.astype(str), rng)
        case "typos":
            new = _typos(original.astype(str), rng)
        case "outliers":
            new = _outliers(values, original, column.type, rng)
        case "date_formats":
            new = _reformat(original, column.type, rng)
        case _:
            raise GenerationError(f"messiness kind '{rule.kind}' is not supported", "messiness")
    before = format_values(original, column.type)
    frame = frame.copy()
    if rule.kind == "date_formats":
        # the whole column becomes text: ISO for untouched rows, the other formats where planted
        iso = format_values(values, column.type)
        frame[rule.column] = iso.where(values.notna(), None)
        after = new.astype(object)
    elif rule.kind == "missing":
        after = pd.Series([""] * len(rows), index=original.index, dtype=object)
    else:
        after = format_values(new, column.type)
    target = frame[rule.column].copy()
    if rule.kind == "missing":
        target.iloc[rows] = None  # NaN, NaT, <NA> or None, whatever the column's dtype uses
    else:
        if new.dtype == object and target.dtype != object:
            target = target.astype(object)
        target.iloc[rows] = new.to_numpy()
    frame[rule.column] = target
    keys = row_keys(frame.iloc[rows], table)
    entries = [
        IssueLogEntry(table=table.name, row_key=k, column=rule.column, kind=rule.kind, original_value=b, new_value=a)
        for k, b, a in zip(keys, before, after, strict=True)
    ]
    return frame, entries


def _recase(text: pd.Series, rng: np.random.Generator) -> pd.Series:
    upper, lower = text.str.upper(), text.str.lower()
    choice = rng.integers(0, 3, len(text))
    swapped = text.str.swapcase()
    new = np.where(choice == 0, upper, np.where(choice == 1, lower, swapped))
    # the chosen form may equal the original ('NY'.upper()); fall back to one that differs
    same = new == text.to_numpy()
    new = np.where(same, np.where(upper.to_numpy() != text.to_numpy(), upper, lower), new)
    return pd.Series(new, index=text.index, dtype=object)


def _pad(text: pd.Series, rng: np.random.Generator) -> pd.Series:
    choice = rng.integers(0, 3, len(text))
    lead, trail, both = " " + text, text + "  ", "  " + text + " "
    return pd.Series(np.where(choice == 0, lead, np.where(choice == 1, trail, both)), index=text.index, dtype=object)


def _typos(text: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Swap two neighbouring letters, drop one, or double one: on a fixed-width code-point matrix."""
    width = int(text.str.len().max())
    chars = np.array(text.tolist(), dtype=f"<U{width}").view(np.uint32).reshape(len(text), width)
    lengths = text.str.len().to_numpy()
    pos = (rng.random(len(text)) * (lengths - 1)).astype(np.int64)  # 0 .. len-2
    rows = np.arange(len(text))
    op = rng.integers(0, 3, len(text))
    a, b = chars[rows, pos], chars[rows, pos + 1]
    op = np.where((op == 0) & (a == b), 2, op)  # swapping equal letters changes nothing: double instead
    op = np.where((op == 1) & (lengths < 3), 2, op)  # keep at least two letters
    j = np.arange(width + 1)[None, :]
    padded = np.concatenate([chars, np.zeros((len(text), 1), dtype=np.uint32)], axis=1)
    dropped = np.take_along_axis(padded, np.minimum(j + (j > pos[:, None]), width), axis=1)
    dropped[j >= lengths[:, None] - 1] = 0
    doubled = np.take_along_axis(padded, np.maximum(j - (j > pos[:, None] + 0), 0), axis=1)
    doubled[j > lengths[:, None]] = 0
    swapped = padded.copy()
    swapped[rows, pos], swapped[rows, pos + 1] = b, a
    out = np.where((op == 0)[:, None], swapped, np.where((op == 1)[:, None], dropped, doubled))
    result = np.ascontiguousarray(out).view(f"<U{width + 1}").ravel()
    return pd.Series(result.astype(object), index=text.index, dtype=object)


def _outliers(values: pd.Series, original: pd.Series, column_type: str, rng: np.random.Generator) -> pd.Series:
    """Values far above the column's range: max + span x U(2, 10), so no clean value looks like one."""
    numbers = pd.to_numeric(values, errors="coerce")
    high, low = float(numbers.max()), float(numbers.min())
    span = max(high - low, abs(high), 1.0)
    new = high + span * rng.uniform(2.0, 10.0, len(original))
    if column_type == "int":
        return pd.Series(np.round(new).astype(np.int64), index=original.index).astype("Int64")
    return pd.Series(np.round(new, 2), index=original.index, dtype="float64")


def _reformat(original: pd.Series, column_type: str, rng: np.random.Generator) -> pd.Series:
    formats = DATE_FORMATS if column_type == "date" else DATETIME_FORMATS
    dates = pd.to_datetime(original)
    choice = rng.integers(0, len(formats), len(original))
    out = pd.Series([""] * len(original), index=original.index, dtype=object)
    for i, fmt in enumerate(formats):  # one pass per format, not per row
        mask = choice == i
        if mask.any():
            out[mask] = dates[mask].dt.strftime(fmt).to_numpy()
    return out


# --------------------------------------------------------------------------- typing and files


def to_arrow_lenient(frame: pd.DataFrame, table: TableSpec) -> pa.Table:
    """The frame as Arrow: spec types where the values fit, text where they do not (messy columns).

    Columns the spec does not name are kept with the type Arrow infers (text if it cannot).
    """
    arrays, fields = [], []
    for name in frame.columns:
        column = table.column(name)
        values = frame[name]
        array = None
        if column is not None:
            try:
                array = pa.Array.from_pandas(values, type=ARROW_TYPES[column.type])
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                array = None
        if array is None:
            try:
                array = pa.Array.from_pandas(values) if column is None else None
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                array = None
        if array is None:
            text = values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))
            array = pa.array(text.tolist(), type=pa.string())
        arrays.append(array)
        fields.append(pa.field(str(name), array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def issue_log_to_csv(entries: list[IssueLogEntry], path: Path) -> Path:
    """Write the issue log as CSV (header + one row per entry) under a temporary name, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ISSUE_LOG_COLUMNS)
        for e in entries:
            writer.writerow([e.table, e.row_key, e.column or "", e.kind, e.original_value, e.new_value])
    os.replace(tmp, path)
    return path


def read_issue_log(path: Path) -> list[IssueLogEntry]:
    """Read an issue log CSV written by ``issue_log_to_csv``.

    Raises:
        InputError: the file is missing its header or a row is not a valid entry.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ISSUE_LOG_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                f"{path.name}: the issue log lacks column(s) {', '.join(missing)}; "
                f"its header must be {','.join(ISSUE_LOG_COLUMNS)}"
            )
        entries = []
        for line, row in enumerate(reader, start=2):
            try:
                entries.append(
                    IssueLogEntry(**{**{c: row[c] for c in ISSUE_LOG_COLUMNS}, "column": row["column"] or None})
                )
            except ValueError as exc:
                raise InputError(f"{path.name}:{line}: not a valid issue log row ({exc.errors()[0]['msg']})") from None
    return entries
