"""Final column types: the spec's logical types as pandas dtypes, and as Arrow types for files."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from schemas.spec import TableSpec

ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.float64(),
    "string": pa.string(),
    "category": pa.string(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("s"),
}


def cast_table(frame: pd.DataFrame, table: TableSpec) -> pd.DataFrame:
    """Give every column its spec type (nullable ints stay ints, dates become dates)."""
    out = {}
    for column in table.columns:
        values = frame[column.name]
        match column.type:
            case "int":
                out[column.name] = pd.to_numeric(values).round().astype("Int64")
            case "float":
                out[column.name] = pd.to_numeric(values).astype("float64")
            case "decimal":
                decimals = getattr(column.generator, "decimals", None)
                out[column.name] = pd.to_numeric(values).astype("float64").round(2 if decimals is None else decimals)
            case "bool":
                out[column.name] = values.astype("boolean")
            case "date":
                out[column.name] = pd.to_datetime(values).dt.normalize().astype("datetime64[s]")
            case "datetime":
                out[column.name] = pd.to_datetime(values).dt.floor("s").astype("datetime64[s]")
            case _:
                out[column.name] = (
                    values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))
                )
    return pd.DataFrame(out)


def arrow_schema(table: TableSpec) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in table.columns])


def to_arrow(frame: pd.DataFrame, table: TableSpec) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=arrow_schema(table), preserve_index=False)
