"""Learn-from-sample mode, step 1: a folder of sample CSVs -> a learned challenge spec.

The author brings real data that may not be published. Each ``<table>.csv`` is read with types
inferred from its text (ints, decimals, dates, datetimes, booleans, text), SDV detects the metadata
(keys, relationships, sdtypes; a ``metadata.json`` in SDV format beside the CSVs replaces the
detection), and the metadata becomes the project's spec, reviewed at the phase-2 gate like any
other. SDV only matches equal names, so without a metadata.json the keys are completed from the
values: a unique key-named column (``customer_code``), a calendar (a date dimension), the columns
unique together (an aggregate); a column whose values are a parent's keys relates to it when the
names agree (``cust_id`` -> ``customers.customer_code``) or the keys are patterned text. A table no
key relates is learned on its own (noted), not refused.

- primary keys -> sequences (their text pattern kept: ``CUST-000042`` -> ``CUST-######``); a
  calendar key -> ``date_sequence``, and its year, month_name, is_weekend ... -> ``derived``;
- foreign keys -> ``foreign_key`` with the sample's children per parent (at least one when every
  parent has one; no maximum under a parent that keeps its size);
- a child column equal to its parent's column through a key -> ``lookup`` (order line price);
- a date never before another, close behind it -> ``date_offset`` (shipped = ordered + days);
- names, emails, phones, addresses and other identifying columns -> ``faker`` (regenerated, never
  copied from the sample); low-cardinality places (city, state) stay categories;
- other text and small-domain numbers -> ``categorical`` with the sample's shares; numbers ->
  the best-fitting ``numeric`` distribution within the sample's range; dates -> ``date`` with the
  sample's window and month/weekday profiles.

Row counts are ratios of the main table (the domain blueprint's main table when the sample has it,
else the largest), so ``rows`` scales the whole dataset; small stand-alone dimensions keep their size.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schemas.checks import find_cycle
from schemas.errors import DataFactoryError, InputError
from schemas.serialize import spec_from_data
from schemas.spec import NAME_PATTERN, ChallengeSpec, NumericGenerator
from tasks.engine.columns import sample_numeric
from tasks.engine.seed import rng_for

MIN_ROWS = 20  # per table: fewer rows than this cannot give SDV a distribution to learn
SMALL_DIMENSION_ROWS = 30  # a stand-alone dimension smaller than this keeps its size at any scale
MAX_CATEGORIES = 200  # text with more distinct values is free text: regenerated, not learned
MAX_NUMERIC_CATEGORIES = 20  # a number with at most this many distinct values is categorical
LOOKUP_AGREEMENT = 0.999  # share of child rows equal to the parent's column to call it a lookup
OFFSET_SPREAD = 0.5  # an offset's spread must be below this share of the date's own spread
CARDINALITY_MATCH = 0.95  # share of foreign-key values that must exist in the parent
# calendar expressions a column may be of a date column (a date dimension's year, month_name, is_weekend ...)
CALENDAR_EXPRESSIONS = (
    "year({})",
    "quarter({})",
    "month({})",
    "day({})",
    "weekday({})",
    "is_weekend({})",
    "month_name({})",
    "day_name({})",
    "month_start({})",
    "week_start({})",
    "day(add_days({}, 1)) == 1",  # the last day of its month
)

# SDV sdtype -> Faker provider for columns that identify people: always regenerated
IDENTIFYING_PROVIDERS: dict[str, str] = {
    "name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone_number": "phone_number",
    "address": "address",
    "street_address": "street_address",
    "secondary_address": "secondary_address",
    "postcode": "postcode",
    "zipcode": "zipcode",
    "user_name": "user_name",
    "iban": "iban",
    "credit_card_number": "credit_card_number",
    "ipv4_address": "ipv4",
    "ipv6_address": "ipv6",
    "mac_address": "mac_address",
    "license_plate": "license_plate",
    "ssn": "uuid4",  # no SSN provider is allowed in specs: an opaque unique token instead
}
# places: learned as categories when few (they carry the story: sales by city), regenerated when many
LOCATION_PROVIDERS: dict[str, str] = {
    "city": "city",
    "state": "state",
    "state_abbr": "state_abbr",
    "country": "country",
    "country_code": "country_code",
    "administrative_unit": "state",
    "company": "company",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_BOOL = {"true": True, "false": False, "True": True, "False": False, "TRUE": True, "FALSE": False}
_KEY_PATTERN = re.compile(r"^(?P<prefix>\D*?)(?P<digits>\d+)(?P<suffix>\D*)$")


class SampleError(InputError):
    """The sample cannot be learned from; the message names the table or column and the fix."""


@dataclass
class LearnedSample:
    """What ``learn_spec`` learned: the spec for the gate, the typed sample, and how it was read.

    Attributes:
        spec: the learned challenge spec (reviewed at the phase-2 gate, editable).
        tables: the sample, one typed DataFrame per table, column names as in the spec.
        metadata: SDV metadata (``Metadata.to_dict()``) detected from, or shipped with, the sample.
        main_table: the table ``rows`` counts (the spec's ratios are relative to it).
        sample_dir: where the CSVs came from.
        notes: what was inferred or dropped, for the person at the gate.
    """

    spec: ChallengeSpec
    tables: dict[str, pd.DataFrame]
    metadata: dict[str, Any]
    main_table: str
    sample_dir: Path
    notes: list[str] = field(default_factory=list)

    @property
    def identifying(self) -> dict[str, list[str]]:
        """Table -> columns regenerated with Faker (never copied from the sample)."""
        return {
            t.name: [c.name for c in t.columns if c.generator.kind == "faker"]
            for t in self.spec.tables
            if any(c.generator.kind == "faker" for c in t.columns)
        }


@dataclass(frozen=True)
class _Key:
    child: str
    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class _Found:
    """The sample's structure: foreign keys, composite keys (table -> columns), calendars (table -> freq)."""

    keys: list[_Key]
    composites: dict[str, list[str]]
    calendars: dict[str, str]


# --------------------------------------------------------------------------- entry point


def learn_spec(
    sample_dir: Path,
    brief: str,
    *,
    domain: str | None = None,
    rows: int = 10_000,
    seed: int = 42,
    settings: Any = None,
) -> LearnedSample:
    """Read the sample CSVs in ``sample_dir`` and learn a challenge spec from them.

    Args:
        sample_dir: a folder of ``<table>.csv`` files (and optionally SDV ``metadata.json``).
        brief: the business brief; names the domain when ``domain`` is not given.
        domain: a library domain to borrow the company, stakeholder and main table from.
        rows: rows of the main table in the synthetic dataset (others scale with it).
        seed: the challenge seed (profile choices and, later, the synthetic data).
        settings: runtime settings (the questions step reads them for the LLM designer).

    Returns:
        The learned sample: spec (without questions: see ``tasks.sample_questions``), typed tables, notes.

    Raises:
        SampleError: no CSVs, too few rows in a table no other table points at, a repeated primary key,
            a declared or name-matched foreign key whose values are mostly missing from its parent.
        InputError: empty brief or rows <= 0.
    """
    del settings  # reserved: the questions step uses it; the learning itself is offline
    if not brief or not brief.strip():
        raise InputError("the brief is empty; describe the business and its problem in a sentence or two")
    if rows <= 0:
        raise InputError(f"rows must be a positive number, got {rows}")
    sample_dir = Path(sample_dir)
    notes: list[str] = []
    tables = read_sample(sample_dir, notes)
    metadata = sample_metadata(sample_dir, tables, notes)
    detected = not (sample_dir / "metadata.json").exists()
    # a shipped metadata.json says what the single keys are; SDV's detection only knows *_id names and equal names
    composites = _complete_primary_keys(tables, metadata, notes, singles=detected)
    keys = _relationships(metadata, tables)
    _check_keys(tables, metadata, keys)
    if detected:
        keys += _inferred_keys(tables, metadata, keys, notes)
    keys = _without_reachable_keys(tables, metadata, keys, notes)
    calendars = _calendars(tables, metadata)
    _check_sizes(tables, keys, calendars)
    _note_unrelated(tables, keys, calendars, notes)
    domain, blueprint = _domain(brief, domain, notes)
    main = _main_table(tables, keys, blueprint)
    found = _Found(keys, composites, calendars)
    spec_data = _spec_data(tables, metadata, found, main, brief, domain, blueprint, rows, seed, notes)
    try:
        spec = spec_from_data(spec_data)
    except DataFactoryError as exc:  # a learning bug or an odd sample: say so instead of a stack trace
        raise SampleError(f"the spec learned from {sample_dir} does not validate: {exc}") from None
    return LearnedSample(spec, tables, metadata, main, sample_dir, notes)


# --------------------------------------------------------------------------- reading


def read_sample(sample_dir: Path, notes: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every ``*.csv`` of ``sample_dir`` as a typed DataFrame keyed by its snake_case table name.

    Types come from the text, not from pandas' guesses: all-integer text is ``Int64``, numbers
    ``float64``, ``YYYY-MM-DD`` dates and ISO datetimes ``datetime64``, true/false ``boolean``,
    the rest text. Column and table names are lower-cased to snake_case (noted when changed).

    Raises:
        SampleError: no folder, no CSVs, an unreadable or empty file, a name that cannot be made snake_case.
    """
    notes = notes if notes is not None else []
    if not sample_dir.is_dir():
        raise SampleError(f"sample folder {sample_dir} does not exist; pass a folder of <table>.csv files")
    paths = sorted(sample_dir.glob("*.csv"))
    if not paths:
        raise SampleError(f"no CSV files in {sample_dir}; put one <table>.csv per table there")
    tables: dict[str, pd.DataFrame] = {}
    for path in paths:
        name = _snake(path.stem, f"file {path.name}")
        if name in tables:
            raise SampleError(f"two files become table '{name}' in {sample_dir}; rename one of them")
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=True, na_values=[""], skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise SampleError(
                f"{path.name} is not a readable CSV ({exc}); save it as UTF-8 CSV with a header"
            ) from None
        if raw.empty:
            raise SampleError(f"{path.name} has a header but no rows; bring rows or leave the file out")
        renamed = {c: _snake(str(c), f"column '{c}' of {path.name}") for c in raw.columns}
        if len(set(renamed.values())) < len(renamed):
            raise SampleError(f"{path.name}: two columns become the same snake_case name; rename one of them")
        changed = [f"{a} -> {b}" for a, b in renamed.items() if a != b]
        if changed:
            notes.append(f"{name}: columns renamed to snake_case ({', '.join(changed)})")
        if name != path.stem:
            notes.append(f"file {path.name} read as table '{name}'")
        frame = raw.rename(columns=renamed)
        tables[name] = pd.DataFrame({c: _typed(frame[c]) for c in frame.columns})
        empty = [c for c in frame.columns if tables[name][c].isna().all()]
        for column in empty:
            notes.append(f"{name}.{column}: empty in the sample, left out")
            del tables[name][column]
    return tables


def _snake(text: str, what: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
    if name and name[0].isdigit():
        name = f"t_{name}"
    if not re.fullmatch(NAME_PATTERN, name):
        raise SampleError(f"{what} cannot be turned into a snake_case name; rename it (letters, digits, '_')")
    return name


def _typed(text: pd.Series) -> pd.Series:
    """One column's type from its text (see ``read_sample``)."""
    values = text.dropna().str.strip()
    if values.empty:
        return pd.Series([None] * len(text), dtype=object)
    if values.map(_INT.match).notna().all():
        return pd.to_numeric(text, errors="coerce").astype("Int64")
    if values.map(_FLOAT.match).notna().all():
        return pd.to_numeric(text, errors="coerce").astype("float64")
    if values.map(_DATE.match).notna().all():
        return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    if values.map(_DATETIME.match).notna().all():
        return pd.to_datetime(text, format="ISO8601", errors="coerce").astype("datetime64[s]")
    if values.isin(list(_BOOL)).all():
        return text.map(_BOOL).astype("boolean")
    return text.str.strip().astype(object).where(text.notna(), None)


# --------------------------------------------------------------------------- metadata and keys


def sample_metadata(sample_dir: Path, tables: dict[str, pd.DataFrame], notes: list[str]) -> dict[str, Any]:
    """SDV metadata of the sample: ``metadata.json`` from the folder when present, else SDV's detection.

    Raises:
        SampleError: the shipped metadata does not load, validate, or match the CSVs.
    """
    try:
        from sdv.metadata import Metadata
    except ImportError:
        raise SampleError("learning from a sample needs SDV: pip install 'datafactory[sdv]'") from None

    shipped = sample_dir / "metadata.json"
    if shipped.exists():
        try:
            metadata = Metadata.load_from_json(str(shipped))
            metadata.validate()
        except Exception as exc:  # noqa: BLE001 - SDV raises several types; all mean "fix the file"
            raise SampleError(f"{shipped} is not valid SDV metadata ({exc}); fix it or remove it") from None
        data = metadata.to_dict()
        missing = sorted(set(tables) - set(data.get("tables", {})))
        extra = sorted(set(data.get("tables", {})) - set(tables))
        if missing or extra:
            raise SampleError(
                f"{shipped} does not match the CSVs (tables without metadata: {missing or 'none'}; "
                f"metadata without a CSV: {extra or 'none'}); make the table names agree"
            )
        notes.append("keys and relationships read from the sample's metadata.json")
        return data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metadata = Metadata.detect_from_dataframes({n: _for_sdv(f) for n, f in tables.items()})
    notes.append("keys and relationships detected by SDV from column names and values")
    return metadata.to_dict()


def _for_sdv(frame: pd.DataFrame) -> pd.DataFrame:
    """SDV detection reads numpy-friendly dtypes: nullable ints as floats when they hold nulls."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.Int64Dtype):
            # objects holding ints and <NA> make SDV's ordinal detection fail ("Expected numeric dtype")
            has_nulls = out[column].isna().any()
            out[column] = out[column].astype("float64" if has_nulls else "int64")
        elif isinstance(out[column].dtype, pd.BooleanDtype):
            out[column] = out[column].astype(object)
    return out


def _relationships(metadata: dict[str, Any], tables: dict[str, pd.DataFrame]) -> list[_Key]:
    keys = []
    for rel in metadata.get("relationships", []):
        child, parent = rel["child_table_name"], rel["parent_table_name"]
        if child == parent:
            continue  # self references are not generated from a sample (hierarchies): left as plain ids
        keys.append(_Key(child, rel["child_foreign_key"], parent, rel["parent_primary_key"]))
    return [k for k in keys if k.child in tables and k.parent in tables]


def _primary_key(metadata: dict[str, Any], table: str) -> str | None:
    key = metadata["tables"].get(table, {}).get("primary_key")
    return key if isinstance(key, str) else None


def _check_keys(tables: dict[str, pd.DataFrame], metadata: dict[str, Any], keys: list[_Key]) -> None:
    """The sample's keys are usable: unique primary keys, declared or name-detected foreign keys that resolve.

    Raises:
        SampleError: a duplicated primary key, a foreign key whose values are mostly missing from its parent.
    """
    for name, frame in tables.items():
        pk = _primary_key(metadata, name)
        if pk is None:
            continue
        if frame[pk].isna().any() or frame[pk].duplicated().any():
            dupes = frame[pk][frame[pk].duplicated()].astype(str).head(3).tolist()
            raise SampleError(
                f"{name}.{pk} is the primary key but has empty or repeated values (e.g. {dupes}); "
                "deduplicate the sample or declare another key in metadata.json"
            )
    for key in keys:
        child = tables[key.child][key.column].dropna()
        parent = set(tables[key.parent][key.parent_column].dropna().tolist())
        found = child.isin(parent).mean() if len(child) else 0.0
        if found < CARDINALITY_MATCH:
            raise SampleError(
                f"tables that cannot be related: only {found:.0%} of {key.child}.{key.column} values exist in "
                f"{key.parent}.{key.parent_column}; bring the parent rows the sample's children point at, or "
                "declare the right key in metadata.json"
            )


# a key column's name says "key" with one of these words; they say nothing about what it points at
KEY_WORDS = {"id", "key", "code", "no", "nr", "num", "number", "ref", "sk", "fk", "pk", "uuid"}
# words tables are named with that are not the entity (dim_customers, fact_orders, tbl_items)
TABLE_WORDS = {"dim", "fact", "tbl", "table", "stg", "raw", "ref", "lkp", "lookup", "master"}
MAX_KEY_COLUMNS = 3  # a composite key (an aggregate's group columns) has at most this many columns
MAX_KEY_CANDIDATES = 12  # columns a composite key is looked for among (the first ones: group columns lead)


def _complete_primary_keys(
    tables: dict[str, pd.DataFrame], metadata: dict[str, Any], notes: list[str], *, singles: bool = True
) -> dict[str, list[str]]:
    """Primary keys SDV's detection left out (it keys on ``*_id`` names): single keys go into ``metadata``.

    A table without a detected key takes, in this order: a calendar column (every day or month start
    of its span once: a date dimension's ``date_key``), a unique column named like a key
    (``customer_code``, ``cust_no``), or the fewest columns unique together (up to three, no measures:
    an aggregate's ``month_start, region``), returned as table -> columns (SDV metadata has no
    composite keys). Without ``singles`` (a shipped metadata.json declares them) only composite keys
    are looked for.
    """
    composites: dict[str, list[str]] = {}
    for name, frame in tables.items():
        meta = metadata["tables"].setdefault(name, {"columns": {}})
        if meta.get("primary_key"):
            continue
        columns = meta.setdefault("columns", {})
        calendar = next((c for c in frame.columns if _calendar_freq(frame[c]) is not None), None)
        single = calendar or next((c for c in frame.columns if _key_like(frame, c, columns)), None)
        if single is not None and singles:
            meta["primary_key"] = single
            if single != calendar:
                columns[single] = {"sdtype": "id"}
            notes.append(f"{name}: {single} taken as the primary key (unique, named or shaped like a key)")
            continue
        composite = _composite_key(frame, columns)
        if composite:
            composites[name] = composite
            notes.append(f"{name}: no single key; {', '.join(composite)} are unique together (its primary key)")
    return composites


def _key_like(frame: pd.DataFrame, column: str, columns_meta: dict[str, Any]) -> bool:
    values = frame[column]
    return (
        _column_type(values) in ("int", "string")
        and bool(set(_words(column)) & KEY_WORDS)
        and columns_meta.get(column, {}).get("sdtype") not in IDENTIFYING_PROVIDERS
        and values.notna().all()
        and values.is_unique
    )


def _composite_key(frame: pd.DataFrame, columns_meta: dict[str, Any]) -> list[str] | None:
    """The fewest columns unique together: texts, dates, flags and small-domain or key-named integers."""
    candidates = [
        c
        for c in frame.columns
        if frame[c].notna().all()
        and columns_meta.get(c, {}).get("sdtype") not in IDENTIFYING_PROVIDERS
        and (
            _column_type(frame[c]) in ("string", "date", "bool")
            or (
                _column_type(frame[c]) == "int"
                and (frame[c].nunique() <= MAX_NUMERIC_CATEGORIES or set(_words(c)) & KEY_WORDS)
            )
        )
    ]
    for size in range(2, MAX_KEY_COLUMNS + 1):
        for combo in itertools.combinations(candidates[:MAX_KEY_CANDIDATES], size):
            if not frame.duplicated(list(combo)).any():
                return list(combo)
    return None


def _calendar_freq(values: pd.Series) -> str | None:
    """``day`` or ``month`` when ``values`` hold every day (month start) of their span exactly once."""
    if _column_type(values) != "date" or values.isna().any() or not values.is_unique or len(values) < 2:
        return None
    stamps = pd.DatetimeIndex(pd.to_datetime(values)).sort_values()
    for freq, step in (("day", "D"), ("month", "MS")):
        expected = pd.date_range(stamps[0], stamps[-1], freq=step)
        if len(expected) == len(stamps) and (expected == stamps).all():
            return freq
    return None


def _calendars(tables: dict[str, pd.DataFrame], metadata: dict[str, Any]) -> dict[str, str]:
    """Date dimensions: table -> the frequency of its calendar primary key (``day`` or ``month``)."""
    found: dict[str, str] = {}
    for name, frame in tables.items():
        pk = _primary_key(metadata, name)
        freq = _calendar_freq(frame[pk]) if pk else None
        if freq is not None:
            found[name] = freq
    return found


def _words(name: str) -> list[str]:
    """A snake_case name's words, singular (``dim_customers`` -> ``dim``, ``customer``)."""
    out = []
    for word in name.split("_"):
        if len(word) > 3 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word:
            out.append(word)
    return out


def _abbreviates(short: str, long: str) -> bool:
    """``cust`` abbreviates ``customer``, ``acct`` ``account``: same first letter, letters in order, 3+ long."""
    if short == long:
        return True
    if len(short) < 3 or len(short) > len(long) or short[0] != long[0]:
        return False
    rest = iter(long)
    return all(char in rest for char in short)


def _names_agree(child_column: str, parent: str, parent_key: str) -> bool:
    """Whether a child column's name points at a parent: a word of it names the parent table or key.

    ``cust_id`` -> ``customers.customer_code`` and ``acct_ref`` -> ``dim_account.account_id`` agree;
    the key words themselves (``id``, ``code``) do not count, so ``order_id`` never agrees with ``product_id``.
    """
    own = [w for w in _words(child_column) if w not in KEY_WORDS]
    theirs = {w for w in _words(parent) if w not in TABLE_WORDS} | {w for w in _words(parent_key) if w not in KEY_WORDS}
    return any(_abbreviates(a, b) or _abbreviates(b, a) for a in own for b in theirs)


def _patterned(values: pd.Series) -> bool:
    """Text keys with a common non-digit prefix (``CUST-000042``): values that match them match by design."""
    parts = values.dropna().astype(str).str.extract(_KEY_PATTERN)
    return bool(parts["digits"].notna().all() and parts["prefix"].nunique() == 1 and parts["prefix"].iloc[0])


def _inferred_keys(
    tables: dict[str, pd.DataFrame], metadata: dict[str, Any], known: list[_Key], notes: list[str]
) -> list[_Key]:
    """Foreign keys SDV's name matching misses, found by value inclusion and name similarity.

    A child column relates to a parent's single-column primary key (an id or code, not a date: dates
    meet a date dimension by the calendar) when at least ``CARDINALITY_MATCH`` of its values are parent
    keys and either the names agree (``cust_id`` -> ``customers.customer_code``) or the keys are
    patterned text (``CUST-000042``), which no other column matches by chance. Integers need a key
    name that agrees (``cust_no``): small numbers (``order_lines``, a count) fall inside any id range.
    The best parent wins (names, then inclusion, then the smaller parent); a key that would close a
    cycle is left out. Each inferred key is added to ``metadata``'s relationships.
    """
    taken = {(k.child, k.column) for k in known}
    graph: dict[str, set[str]] = {n: set() for n in tables}
    for key in known:
        graph[key.child].add(key.parent)
    parents = []
    for name, frame in tables.items():
        pk = _primary_key(metadata, name)
        if pk is not None and _column_type(frame[pk]) in ("int", "string") and frame[pk].is_unique:
            values = set(frame[pk].dropna().astype(str))
            parents.append((name, pk, values, _patterned(frame[pk])))
    candidates: list[tuple[tuple[bool, bool, float, int], _Key]] = []
    for child, frame in tables.items():
        own_pk = _primary_key(metadata, child)
        for column in frame.columns:
            if column == own_pk or (child, column) in taken:
                continue
            present = frame[column].dropna()
            if present.nunique() < 2:
                continue
            column_type = _column_type(frame[column])
            texts = present.astype(str)
            best: tuple[tuple[bool, bool, float, int], _Key] | None = None
            for parent, pk, values, patterned in parents:
                if parent == child or _column_type(tables[parent][pk]) != column_type:
                    continue
                agree = _names_agree(column, parent, pk)
                if column_type == "int" and not (column == pk or (agree and set(_words(column)) & KEY_WORDS)):
                    continue  # an integer is a key only by its name: counts fall inside any id range
                if not (agree or (column_type == "string" and patterned)):
                    continue
                inclusion = float(texts.isin(values).mean())
                if inclusion < CARDINALITY_MATCH:
                    continue
                score = (agree, column == pk, inclusion, -len(values))
                if best is None or score > best[0]:
                    best = (score, _Key(child, column, parent, pk))
            if best is not None:
                candidates.append(best)
    found: list[_Key] = []
    for _, key in sorted(candidates, key=lambda c: c[0], reverse=True):
        graph[key.child].add(key.parent)
        if find_cycle(graph):
            graph[key.child].discard(key.parent)
            continue
        found.append(key)
        metadata.setdefault("relationships", []).append(
            {
                "parent_table_name": key.parent,
                "parent_primary_key": key.parent_column,
                "child_table_name": key.child,
                "child_foreign_key": key.column,
            }
        )
        metadata["tables"][key.child]["columns"][key.column] = {"sdtype": "id"}
        notes.append(
            f"{key.child}.{key.column} -> {key.parent}.{key.parent_column}: related by its values "
            "(and name), not by an equal column name"
        )
    return found


def _without_reachable_keys(
    tables: dict[str, pd.DataFrame], metadata: dict[str, Any], keys: list[_Key], notes: list[str]
) -> list[_Key]:
    """Keys the child also reaches through another of its keys, dropped (they become lookups).

    A booking's ``property_id`` that always equals its room's ``property_id`` is the room's property,
    not a second, independent draw: as a key it would give rooms of one hotel bookings in another.
    """
    kept = list(keys)
    for key in keys:
        for via in kept:
            if via is key or via.child != key.child:
                continue
            hop = next((k for k in kept if k.child == via.parent and k.parent == key.parent), None)
            if hop is None or hop is key:
                continue
            frame = tables[key.child]
            through = _parent_values(via, frame, tables, hop.column)
            both = frame[key.column].notna() & through.notna()
            if both.sum() < 10 or both.sum() != frame[key.column].notna().sum():
                continue
            if (frame[key.column][both].astype(str) == through[both].astype(str)).mean() >= LOOKUP_AGREEMENT:
                kept.remove(key)
                notes.append(
                    f"{key.child}.{key.column}: always the {via.parent}'s {hop.column} (through {via.column}); "
                    "learned as a lookup, not as a key of its own"
                )
                break
    dropped = [k for k in keys if k not in kept]
    metadata["relationships"] = [
        r
        for r in metadata.get("relationships", [])
        if not any(
            (r["child_table_name"], r["child_foreign_key"], r["parent_table_name"]) == (k.child, k.column, k.parent)
            for k in dropped
        )
    ]
    return kept


def _check_sizes(tables: dict[str, pd.DataFrame], keys: list[_Key], calendars: dict[str, str]) -> None:
    """Tables below ``MIN_ROWS`` rows are learned only as small parents (a few stores) or calendars.

    Raises:
        SampleError: a table with too few rows that no other table points at.
    """
    parents = {k.parent for k in keys} | set(calendars)
    for name, frame in tables.items():
        if len(frame) < MIN_ROWS and name not in parents:
            raise SampleError(
                f"too few rows to learn from: {name}.csv has {len(frame)} row(s); SDV needs at least {MIN_ROWS} "
                "rows per table to learn its distributions (a smaller table is kept only as the parent of "
                "another). Bring more rows or leave the file out"
            )


def _note_unrelated(
    tables: dict[str, pd.DataFrame], keys: list[_Key], calendars: dict[str, str], notes: list[str]
) -> None:
    """Tables no key relates to the others are learned on their own: say so (and how to relate them)."""
    if len(tables) == 1:
        return
    related = {k.child for k in keys} | {k.parent for k in keys}
    dated = {n for n, f in tables.items() if any(_column_type(f[c]) in ("date", "datetime") for c in f.columns)}
    for name in sorted(set(tables) - related):
        if name in calendars:
            notes.append(f"{name}: a date dimension ({calendars[name]}ly calendar), joined to the other tables by date")
        elif calendars and name in dated:
            notes.append(f"{name}: no key relates it to the other tables; it joins the date dimension by its dates")
        else:
            notes.append(
                f"{name}: no key relates it to the other tables (no shared values); learned on its own. To relate it, "
                "name the key alike in both files or declare the relationship in an SDV metadata.json"
            )


# --------------------------------------------------------------------------- domain and main table


def _domain(brief: str, domain: str | None, notes: list[str]) -> tuple[str, Any]:
    """The requested or matched library domain and its blueprint, or ``learned`` and None."""
    from tasks.designer_offline import choose_domain
    from tasks.domains import get_blueprint

    try:
        chosen, _ = choose_domain(brief, domain)
        from tasks.design.compose import COMPOSED_DOMAIN
    except InputError:
        if domain:
            raise
        notes.append("the brief matches no library domain: the challenge is described from the sample alone")
        return "learned", None
    if chosen == COMPOSED_DOMAIN:  # the sample's own tables are the composition: nothing to borrow
        notes.append("--domain compose: the challenge is described from the sample alone")
        return "learned", None
    return chosen, get_blueprint(chosen)


def _main_table(tables: dict[str, pd.DataFrame], keys: list[_Key], blueprint: Any) -> str:
    """The blueprint's main table (ratio 1) when the sample has it, else the largest table with keys."""
    if blueprint is not None:
        for table in blueprint.spec.tables:
            if table.ratio == 1.0 and table.name in tables:
                return table.name
    children = {k.child for k in keys}
    candidates = [n for n in tables if n in children] or list(tables)
    return max(candidates, key=lambda n: (len(tables[n]), n))


# --------------------------------------------------------------------------- the spec


def _spec_data(
    tables: dict[str, pd.DataFrame],
    metadata: dict[str, Any],
    found: _Found,
    main: str,
    brief: str,
    domain: str,
    blueprint: Any,
    rows: int,
    seed: int,
    notes: list[str],
) -> dict[str, Any]:
    start, end = _window(tables, notes)
    rng = rng_for(seed, 0, "sample-profile")
    if blueprint is not None:
        company = str(rng.choice(blueprint.company_names))
        stakeholder = str(rng.choice(blueprint.stakeholders))
    else:
        company, stakeholder = "Sample Company", "Head of Analytics"
    described = ", ".join(f"{n} ({len(f):,} rows)" for n, f in tables.items())
    statement = (
        f"{brief.strip().rstrip('.')}. {company} shared a sample of its data ({described}); this challenge uses a "
        "synthetic dataset with the same structure and statistical shape. Explore it and answer the questions."
    )
    main_rows = len(tables[main])
    keys = found.keys
    learned_tables = []
    for name, frame in tables.items():
        table = _table_data(name, frame, metadata, found, tables, notes)
        parents = {k.parent for k in keys if k.child == name}
        is_parent = any(k.parent == name for k in keys)
        if name in found.calendars:  # a date dimension: one row per day (month) of the window, at any scale
            table["role"] = "dimension"
            learned_tables.append(table)
            continue
        if not parents and len(frame) < SMALL_DIMENSION_ROWS and name != main:
            table["rows"] = len(frame)
            notes.append(f"{name}: a small dimension ({len(frame)} rows) keeps its size at any scale")
        else:
            table["ratio"] = round(len(frame) / main_rows, 6)
        table["role"] = "dimension" if is_parent and not parents else "fact"
        learned_tables.append(table)
    _unbounded_under_fixed_parents(learned_tables)
    notes.append(f"main table: {main} ({main_rows} sample rows -> {rows:,}); other tables keep their ratio to it")
    return {
        "challenge": {
            "id": f"{domain.replace('_', '-')}-sample-{seed}",
            "title": f"{company}: analysis of a learned {domain.replace('_', ' ')} dataset",
            "domain": domain,
            "company": {"name": company, "profile": f"Brief: {brief.strip()}"},
            "problem_statement": statement,
            "stakeholder": stakeholder,
            "time_window": {"start": start, "end": end},
            "seed": seed,
        },
        "scale": rows,
        "tables": learned_tables,
    }


def _unbounded_under_fixed_parents(learned_tables: list[dict[str, Any]]) -> None:
    """Children of a parent that keeps its size lose the sample's bounds per parent (and one-to-one).

    The children scale with ``rows`` while the parent (a small dimension) does not, so ten times the
    rows put about ten times as many children on each parent: the sample's maximum cannot hold, nor
    can two rooms in two of six hotels stay one room per hotel; and a preview's few rows cannot give
    each of 24 customers a card.
    """
    fixed = {t["name"] for t in learned_tables if "ratio" not in t}
    for table in learned_tables:
        if "ratio" not in table:
            continue
        for column in table["columns"]:
            gen = column["generator"]
            if gen["kind"] == "foreign_key" and gen["references"].split(".", 1)[0] in fixed:
                gen["min_children"], gen["max_children"] = 0, None
                column["unique"] = False


def _window(tables: dict[str, pd.DataFrame], notes: list[str]) -> tuple[dt.date, dt.date]:
    lows, highs = [], []
    for frame in tables.values():
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column]) and frame[column].notna().any():
                lows.append(frame[column].min())
                highs.append(frame[column].max())
    if not lows:
        notes.append("no dates in the sample: the time window is the current year")
        year = dt.date.today().year
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    start, end = min(lows).date(), max(highs).date()
    return start, max(end, start + dt.timedelta(days=1))


def _table_data(
    name: str,
    frame: pd.DataFrame,
    metadata: dict[str, Any],
    found: _Found,
    tables: dict[str, pd.DataFrame],
    notes: list[str],
) -> dict[str, Any]:
    columns_meta = metadata["tables"][name]["columns"]
    pk = _primary_key(metadata, name)
    fks = {k.column: k for k in found.keys if k.child == name}
    lookups = _lookups(name, frame, fks, tables, metadata)
    offsets = _offsets(name, frame, fks, tables)
    derived = _calendar_columns(frame, {pk, *fks, *lookups, *offsets} - ({pk} if name in found.calendars else set()))
    determined = _determined(frame, {pk, *fks, *lookups, *offsets, *derived}, columns_meta)
    columns = []
    for column in frame.columns:
        sdtype = columns_meta.get(column, {}).get("sdtype", "unknown")
        if column == pk and name in found.calendars:
            freq = found.calendars[name]
            columns.append(
                {
                    "name": column,
                    "type": "date",
                    "unique": True,
                    "description": f"Calendar date, one row per {freq} (join key for the dates).",
                    # the sample's span, not the window (which reaches back to birth dates and the like)
                    "generator": {
                        "kind": "date_sequence",
                        "freq": freq,
                        "start": frame[column].min().date(),
                        "end": frame[column].max().date(),
                    },
                }
            )
            continue
        spec_column = _column(frame, column, sdtype, pk, fks, lookups, offsets, tables, notes, name)
        if column in derived:
            spec_column["generator"] = {"kind": "derived", "expression": derived[column]}
            spec_column["description"] = f"{derived[column]}, as in the sample."
            spec_column["nullable"] = 0.0
            if spec_column["type"] == "category":
                spec_column["type"] = "string"
        elif column in determined and spec_column["generator"]["kind"] == "categorical":
            spec_column["generator"] = _conditional(frame, determined[column], column)
            spec_column["description"] = f"Follows {determined[column]} (one value each, as in the sample)."
            # empty exactly where the column it follows is (see _determined): no nulls of its own
            spec_column["nullable"] = 0.0
        columns.append(spec_column)
    out: dict[str, Any] = {"name": name, "description": f"Learned from the sample's {name}.csv.", "columns": columns}
    if pk:
        out["primary_key"] = [pk]
    elif name in found.composites:
        out["primary_key"] = list(found.composites[name])
    return out


def _column(
    frame: pd.DataFrame,
    column: str,
    sdtype: str,
    pk: str | None,
    fks: dict[str, _Key],
    lookups: dict[str, tuple[str, str]],
    offsets: dict[str, tuple[str, np.ndarray]],
    tables: dict[str, pd.DataFrame],
    notes: list[str],
    table: str,
) -> dict[str, Any]:
    values = frame[column]
    present = values.dropna()
    column_type = _column_type(values)
    nullable = round(float(values.isna().mean()), 4)
    out: dict[str, Any] = {"name": column, "type": column_type, "nullable": min(nullable, 0.99)}
    unique = bool(len(present) == len(values) and present.is_unique)
    if column == pk:
        out.update(nullable=0.0, unique=True, description="Primary key.", generator=_sequence(present, column_type))
        return out
    if column in fks:
        key = fks[column]
        counts = tables[key.parent][key.parent_column].map(present.value_counts()).fillna(0).astype(int)
        gen = {
            "kind": "foreign_key",
            "references": f"{key.parent}.{key.parent_column}",
            # at least one child when every sample parent has one; the sample's own minimum (190 trips for
            # each of 2 drivers) is an accident of its size that a smaller run could not meet
            "min_children": min(1, int(counts.min())),
            "max_children": max(1, int(counts.max())),
        }
        out.update(type=_column_type(tables[key.parent][key.parent_column]), generator=gen, unique=unique)
        out["description"] = f"The {key.parent} row this row belongs to."
        return out
    if column in lookups:
        via, parent_column = lookups[column]
        out["generator"] = {"kind": "lookup", "via": via, "column": parent_column}
        if column_type == "string" and present.nunique() <= MAX_CATEGORIES:
            out["type"] = "category"
        out["description"] = f"The {parent_column} of the row's {fks[via].parent} (through {via})."
        return out
    if column in offsets:
        ref, diffs = offsets[column]
        unit = "days" if column_type == "date" else "minutes"
        offset = _fit_numeric(diffs, 0, f"{table}.{column}")
        out["generator"] = {"kind": "date_offset", "from_column": ref, "unit": unit, "offset": offset}
        out["description"] = f"{ref} plus a delay in {unit}, as in the sample."
        return out
    provider = _identifying_provider(present, sdtype)
    if provider is not None:
        out.update(type="string", unique=unique, generator={"kind": "faker", "provider": provider})
        out["description"] = f"Identifying ({provider}): regenerated, never copied from the sample."
        notes.append(f"{table}.{column}: identifies people ({sdtype}); regenerated with Faker '{provider}'")
        return out
    out["generator"], out["type"] = _value_generator(present, column_type, sdtype, f"{table}.{column}", notes)
    out["description"] = f"Learned from the sample ({out['generator']['kind']})."
    return out


def _column_type(values: pd.Series) -> str:
    dtype = values.dtype
    if isinstance(dtype, pd.Int64Dtype) or pd.api.types.is_integer_dtype(dtype):
        return "int"
    if isinstance(dtype, pd.BooleanDtype) or pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_float_dtype(dtype):
        return "decimal"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = values.dropna()
        midnight = (stamps == stamps.dt.normalize()).all()
        return "date" if midnight else "datetime"
    return "string"


def _sequence(keys: pd.Series, column_type: str) -> dict[str, Any]:
    if column_type == "int":
        return {"kind": "sequence", "start": 1}
    texts = keys.astype(str)
    parts = texts.str.extract(_KEY_PATTERN)
    if parts["digits"].notna().all() and parts["prefix"].nunique() == 1 and parts["suffix"].nunique() == 1:
        width = int(parts["digits"].str.len().max())
        prefix, suffix = parts["prefix"].iloc[0], parts["suffix"].iloc[0]
        if "#" not in prefix + suffix:
            return {"kind": "sequence", "pattern": f"{prefix}{'#' * width}{suffix}"}
    return {"kind": "sequence", "pattern": "ID-" + "#" * 8}


def _identifying_provider(present: pd.Series, sdtype: str) -> str | None:
    if sdtype in IDENTIFYING_PROVIDERS:
        return IDENTIFYING_PROVIDERS[sdtype]
    if present.dtype == object and len(present) and present.astype(str).map(_EMAIL.match).notna().mean() > 0.9:
        return "email"
    if sdtype in LOCATION_PROVIDERS and present.nunique() > MAX_CATEGORIES:
        return LOCATION_PROVIDERS[sdtype]
    if present.dtype == object and present.nunique() > MAX_CATEGORIES:
        return "sentence"  # free text may quote people: never copied
    return None


def _value_generator(
    present: pd.Series, column_type: str, sdtype: str, where: str, notes: list[str]
) -> tuple[dict[str, Any], str]:
    """The generator (and final type) of a learned, non-key, non-identifying column."""
    if column_type in ("date", "datetime"):
        return _date_generator(present, column_type), column_type
    numeric = column_type in ("int", "decimal")
    distinct = present.nunique()
    if column_type in ("string", "bool") or (numeric and distinct <= MAX_NUMERIC_CATEGORIES) or distinct < 2:
        shares = present.value_counts(normalize=True, sort=True)
        shares = shares.sort_index(kind="stable") if numeric else shares
        values = [_plain(v) for v in shares.index]
        weights = [round(float(w), 6) for w in shares.to_numpy()]
        final = "category" if column_type == "string" else column_type
        if column_type == "string" and sdtype in LOCATION_PROVIDERS:
            notes.append(f"{where}: a place with {distinct} values, kept as a category (not identifying)")
        return {"kind": "categorical", "values": values, "weights": weights}, final
    decimals = 0 if column_type == "int" else _decimals(present)
    return _fit_numeric(present.to_numpy(dtype=float), decimals, where), column_type


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return value
    return value


def _decimals(present: pd.Series) -> int:
    x = present.to_numpy(dtype=float)
    for places in range(0, 7):
        # rtol=0: numpy's relative default calls 203165.99 a whole number (and the engine then rounds past the max)
        if np.allclose(x, np.round(x, places), rtol=0, atol=10 ** -(places + 3)):
            return places
    return 6


def _fit_numeric(x: np.ndarray, decimals: int, where: str) -> dict[str, Any]:
    """The best of normal, lognormal, gamma and uniform, clipped to the sample's range.

    Best = smallest error in mean and spread (relative to the spread) plus the KS distance, measured
    on draws from the engine's own sampler, so the quality checks' reference moments match the sample.
    """
    x = x[~np.isnan(x)]
    low, high = float(x.min()), float(x.max())
    mean, std = float(x.mean()), float(x.std())
    bounds = {"min": low, "max": high, "decimals": decimals}
    if std == 0 or low == high:
        return {"kind": "numeric", "distribution": "uniform", "low": low, "high": low + 1e-9, **bounds}
    candidates: list[dict[str, Any]] = [
        {"distribution": "normal", "mean": mean, "std": std},
        {"distribution": "uniform", "low": low, "high": high},
    ]
    if low > 0:
        logs = np.log(x)
        candidates.append(
            {"distribution": "lognormal", "median": float(np.exp(logs.mean())), "sigma": float(logs.std())}
        )
        candidates.append({"distribution": "gamma", "shape": mean**2 / std**2, "scale": std**2 / mean})
    rng = rng_for(0, 0, "sample-fit", where)
    ordered = np.sort(x)
    best, best_error = candidates[0], np.inf
    for params in candidates:
        gen = NumericGenerator(kind="numeric", **params, **bounds)
        draws = np.sort(sample_numeric(gen, 4000, rng))
        ks = float(
            np.max(
                np.abs(np.searchsorted(draws, ordered, side="right") / len(draws) - np.arange(1, len(x) + 1) / len(x))
            )
        )
        error = abs(draws.mean() - mean) / std + abs(draws.std() - std) / std + ks
        if error < best_error:
            best, best_error = params, error
    return {"kind": "numeric", **{k: _round(v) for k, v in best.items()}, **bounds}


def _round(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def _date_generator(present: pd.Series, column_type: str) -> dict[str, Any]:
    stamps = pd.to_datetime(present)
    start, end = stamps.min().date(), stamps.max().date()
    gen: dict[str, Any] = {"kind": "date", "start": start, "end": max(end, start + dt.timedelta(days=1))}
    if (end - start).days >= 330 and len(stamps) >= 100:
        months = np.bincount(stamps.dt.month - 1, minlength=12).astype(float)
        months = months / _month_exposure(start, end)
        gen["month_weights"] = [round(float(w), 4) for w in months / months.mean()] if months.sum() else None
    if len(stamps) >= 70:
        days = np.bincount(stamps.dt.weekday, minlength=7).astype(float) + 0.5
        gen["weekday_weights"] = [round(float(w), 4) for w in days / days.mean()]
    if column_type == "datetime" and len(stamps) >= 240:
        hours = np.bincount(stamps.dt.hour, minlength=24).astype(float) + 0.5
        gen["hour_weights"] = [round(float(w), 4) for w in hours / hours.mean()]
    return {k: v for k, v in gen.items() if v is not None}


def _month_exposure(start: dt.date, end: dt.date) -> np.ndarray:
    """Days of each calendar month inside the window (so a partly covered month is not read as quiet)."""
    days = pd.date_range(start, end, freq="D")
    return np.maximum(np.bincount(days.month - 1, minlength=12).astype(float), 1.0)


# --------------------------------------------------------------------------- lookups, offsets, dependencies


def _determined(frame: pd.DataFrame, skip: set[Any], columns_meta: dict[str, Any]) -> dict[str, str]:
    """Text columns fixed by another text column (region by city) -> that column.

    ``A`` determines ``B`` when every value of ``A`` has exactly one ``B`` in the sample, ``A`` repeats
    (at least 2 rows per value, so uniqueness does not fake it) and has more values than ``B``; the
    closest such ``A`` (fewest values) wins, so chains (sub-category -> category) stay chains.
    """
    text = [
        c
        for c in frame.columns
        if c not in skip
        and _column_type(frame[c]) == "string"
        and columns_meta.get(c, {}).get("sdtype") not in IDENTIFYING_PROVIDERS
        and 2 <= frame[c].nunique() <= MAX_CATEGORIES
    ]
    found: dict[str, str] = {}
    for b in text:
        best: str | None = None
        for a in text:
            if a == b or frame[a].nunique() <= frame[b].nunique():
                continue
            both = frame[[a, b]].dropna()
            if len(both) < 2 * both[a].nunique() or frame[b].notna().sum() != len(both):
                continue
            if (both.groupby(a)[b].nunique() == 1).all() and (
                best is None or frame[a].nunique() < frame[best].nunique()
            ):
                best = a
        if best is not None:
            found[b] = best
    return found


def _calendar_columns(frame: pd.DataFrame, skip: set[Any]) -> dict[str, str]:
    """Columns that are a calendar function of a date column of the same row -> the expression.

    A date dimension's ``year``, ``month_name`` or ``is_weekend`` (and a fact's ``order_month``) are
    computed from their date, so the synthetic rows keep them consistent instead of learning them apart.
    """
    from tasks.engine.evaluate import evaluate

    dates = [c for c in frame.columns if _column_type(frame[c]) in ("date", "datetime") and frame[c].notna().all()]
    targets = [c for c in frame.columns if c not in skip and frame[c].notna().all() and frame[c].nunique() >= 2]
    found: dict[str, str] = {}
    for source in dates:
        templates = CALENDAR_EXPRESSIONS + (("hour({})",) if _column_type(frame[source]) == "datetime" else ())
        for template in templates:
            expression = template.format(source)
            try:
                values = _normalised(evaluate(expression, {source: frame[source]}, len(frame)))
            except Exception:  # noqa: BLE001 - a function that does not apply to this column is no match
                continue
            for target in targets:
                if target != source and target not in found and (values == _normalised(frame[target])).all():
                    found[target] = expression
    return found


def _normalised(values: pd.Series) -> pd.Series:
    """Values as comparable text: dates as ISO text, numbers as floats, flags as True/False."""
    values = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values).dt.strftime("%Y-%m-%d %H:%M:%S")
    if pd.api.types.is_bool_dtype(values) or isinstance(values.dtype, pd.BooleanDtype):
        return values.astype(object).map(str)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64").map(repr)
    return values.astype(str)


def _conditional(frame: pd.DataFrame, on: str, column: str) -> dict[str, Any]:
    pairs = frame[[on, column]].dropna().drop_duplicates(on)
    cases = {
        str(a): {"kind": "categorical", "values": [_plain(b)]} for a, b in zip(pairs[on], pairs[column], strict=True)
    }
    return {"kind": "conditional", "on": on, "cases": cases}


def _parent_values(key: _Key, frame: pd.DataFrame, tables: dict[str, pd.DataFrame], column: str) -> pd.Series:
    """The parent's ``column`` for each child row, through ``key`` (NaN where the key does not resolve)."""
    parent = tables[key.parent].drop_duplicates(key.parent_column).set_index(key.parent_column)[column]
    return frame[key.column].map(parent)


def _lookups(
    name: str, frame: pd.DataFrame, fks: dict[str, _Key], tables: dict[str, pd.DataFrame], metadata: dict[str, Any]
) -> dict[str, tuple[str, str]]:
    """Child columns that always equal a parent column through a key -> (fk column, parent column)."""
    found: dict[str, tuple[str, str]] = {}
    key_columns = set(fks) | {_primary_key(metadata, name)}
    for column in frame.columns:
        if column in key_columns or frame[column].nunique() < 2:
            continue
        for fk, key in fks.items():
            parent = tables[key.parent]
            candidates = sorted(
                (c for c in parent.columns if c not in (key.parent_column, _primary_key(metadata, key.parent))),
                key=lambda c: c != column,  # a same-named parent column first
            )
            for parent_column in candidates:
                if _column_type(parent[parent_column]) != _column_type(frame[column]):
                    continue
                through = _parent_values(key, frame, tables, parent_column)
                both = frame[column].notna() & through.notna()
                if both.sum() < 10 or frame[column].notna().sum() != both.sum():
                    continue
                agree = (frame[column][both].astype(str) == through[both].astype(str)).mean()
                if agree >= LOOKUP_AGREEMENT:
                    found[column] = (fk, parent_column)
                    break
            if column in found:
                break
    return found


def _offsets(
    name: str, frame: pd.DataFrame, fks: dict[str, _Key], tables: dict[str, pd.DataFrame]
) -> dict[str, tuple[str, np.ndarray]]:
    """Dates never before another date and close behind it -> (reference, offsets in the unit)."""
    dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    references: dict[str, pd.Series] = {c: frame[c] for c in dates}
    for fk, key in fks.items():
        for column in tables[key.parent].columns:
            if pd.api.types.is_datetime64_any_dtype(tables[key.parent][column]):
                references[f"{fk}.{column}"] = _parent_values(key, frame, tables, column)
    found: dict[str, tuple[str, np.ndarray]] = {}
    depends: dict[str, str] = {}
    for column in dates:
        own = frame[column]
        spread = _seconds(own.dropna()).std()
        unit = 86_400 if _column_type(own) == "date" else 60
        best: tuple[float, str, np.ndarray] | None = None
        for ref, values in references.items():
            if ref == column or _reaches(depends, ref, column):
                continue
            both = own.notna() & values.notna()
            if both.sum() < 10 or own.notna().sum() != both.sum():
                continue
            diffs = (_seconds(own[both]) - _seconds(values[both])).to_numpy(dtype=float) / unit
            if (diffs < 0).any():
                continue
            spread_ratio = diffs.std() * unit / spread if spread else np.inf
            if spread_ratio < OFFSET_SPREAD and (best is None or diffs.std() < best[0]):
                best = (float(diffs.std()), ref, diffs)
        if best is not None:
            found[column] = (best[1], best[2])
            depends[column] = best[1]
    return found


def _seconds(stamps: pd.Series) -> pd.Series:
    """Dates as whole seconds since 1970 (whatever their datetime unit)."""
    return pd.to_datetime(stamps).astype("datetime64[s]").astype("int64")


def _reaches(depends: dict[str, str], start: str, target: str) -> bool:
    """Whether ``start`` is (transitively) an offset of ``target`` (choosing it would make a cycle)."""
    node, seen = start, set()
    while node in depends and node not in seen:
        seen.add(node)
        node = depends[node]
        if node == target:
            return True
    return False


def learned_summary(learned: LearnedSample) -> str:
    """A short JSON summary of what was learned (tables, rows, keys, identifying columns) for artifacts."""
    summary = {
        "main_table": learned.main_table,
        "tables": {n: len(f) for n, f in learned.tables.items()},
        "relationships": [
            f"{r.child_table}.{r.child_column} -> {r.parent_table}.{r.parent_column}"
            for r in learned.spec.relationships
        ],
        "identifying": learned.identifying,
    }
    return json.dumps(summary, indent=2)
