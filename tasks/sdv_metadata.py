"""SDV multi-table metadata (``METADATA_SPEC_VERSION: V1``) derived from a challenge spec.

Plain data, no SDV import: the dict loads with ``sdv.metadata.Metadata.load_from_dict`` and validates.
Where SDV is narrower than the spec, the metadata says less rather than something wrong: composite
primary keys are left out, and foreign keys that point at a unique column other than the parent's
primary key are not listed as relationships.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.spec import (
    ChallengeSpec,
    ColumnSpec,
    FakerGenerator,
    ForeignKeyGenerator,
    SequenceGenerator,
    TableSpec,
)

SDV_METADATA_VERSION = "V1"

# Faker providers SDV knows as PII sdtypes (it anonymises them instead of learning them)
_PII_SDTYPES = {
    "address",
    "city",
    "company",
    "country",
    "country_code",
    "email",
    "first_name",
    "iban",
    "ipv4_address",
    "job",
    "last_name",
    "license_plate",
    "name",
    "phone_number",
    "postcode",
    "ssn",
    "state",
    "state_abbr",
    "street_address",
    "user_name",
    "zipcode",
}


def sdv_metadata(spec: ChallengeSpec) -> dict[str, Any]:
    """The SDV multi-table metadata of ``spec``: every table, column sdtype, primary key and relationship.

    Args:
        spec: the challenge spec.

    Returns:
        A JSON-ready dict in SDV's ``V1`` multi-table format.
    """
    tables = {t.name: _table_metadata(spec, t) for t in spec.tables}
    relationships = []
    for r in spec.relationships:
        parent = spec.table(r.parent_table)
        if parent.primary_key != [r.parent_column] or r.parent_table == r.child_table:
            continue  # SDV relationships must point at the parent's single-column primary key
        relationships.append(
            {
                "parent_table_name": r.parent_table,
                "parent_primary_key": r.parent_column,
                "child_table_name": r.child_table,
                "child_foreign_key": r.child_column,
            }
        )
    return {"METADATA_SPEC_VERSION": SDV_METADATA_VERSION, "tables": tables, "relationships": relationships}


def sdv_metadata_json(spec: ChallengeSpec) -> str:
    """``sdv_metadata(spec)`` as indented JSON text, ending in a newline."""
    return json.dumps(sdv_metadata(spec), indent=2) + "\n"


def _table_metadata(spec: ChallengeSpec, table: TableSpec) -> dict[str, Any]:
    id_columns = _id_columns(spec, table)
    columns = {c.name: _column_metadata(c, c.name in id_columns) for c in table.columns}
    out: dict[str, Any] = {"columns": columns}
    if len(table.primary_key) == 1:
        out["primary_key"] = table.primary_key[0]
    return out


def _id_columns(spec: ChallengeSpec, table: TableSpec) -> set[str]:
    """Columns SDV must treat as ids: the single primary key and foreign keys in listed relationships."""
    ids = set(table.primary_key) if len(table.primary_key) == 1 else set()
    for r in spec.relationships:
        if r.child_table == table.name and spec.table(r.parent_table).primary_key == [r.parent_column]:
            ids.add(r.child_column)
            if r.parent_table == r.child_table:
                ids.discard(r.child_column)
    for c in table.columns:
        if c.unique and c.type in ("string", "int") and not isinstance(c.generator, FakerGenerator):
            ids.add(c.name)
    return ids


def _column_metadata(column: ColumnSpec, is_id: bool) -> dict[str, Any]:
    gen = column.generator
    if is_id:
        meta: dict[str, Any] = {"sdtype": "id"}
        if isinstance(gen, SequenceGenerator) and gen.pattern and column.type == "string":
            meta["regex_format"] = _pattern_regex(gen.pattern)
        return meta
    match column.type:
        case "int":
            return {"sdtype": "numerical"}
        case "float" | "decimal":
            return {"sdtype": "numerical"}
        case "bool":
            return {"sdtype": "boolean"}
        case "date":
            return {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
        case "datetime":
            return {"sdtype": "datetime", "datetime_format": "%Y-%m-%d %H:%M:%S"}
        case "category":
            return {"sdtype": "categorical"}
    if isinstance(gen, FakerGenerator) and gen.provider in _PII_SDTYPES:
        return {"sdtype": gen.provider, "pii": True}
    if isinstance(gen, ForeignKeyGenerator):
        return {"sdtype": "id"}
    return {"sdtype": "categorical"}


def _pattern_regex(pattern: str) -> str:
    """``CUST-#####`` -> ``CUST\\-[0-9]{5}`` (the pattern's fixed text escaped, the ``#`` run as digits)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "#":
            j = i
            while j < len(pattern) and pattern[j] == "#":
                j += 1
            out.append(f"[0-9]{{{j - i}}}")
            i = j
        else:
            out.append(_regex_escape(pattern[i]))
            i += 1
    return "".join(out)


def _regex_escape(char: str) -> str:
    return "\\" + char if char in r".^$*+?{}[]\|()-" else char
