"""Table profiles: per-column statistics computed from aggregates, small enough for any report.

A profile never holds raw rows: counts, null rates, distinct counts, ranges, a few top values,
a coarse histogram and a monthly volume, so a report costs the same at 1K or 10M rows.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.spec import _StrictModel


class ValueCount(_StrictModel):
    value: str
    count: int


class HistogramBin(_StrictModel):
    low: float
    high: float
    count: int


class PeriodCount(_StrictModel):
    period: str = Field(description="ISO month, e.g. 2024-03")
    count: int


class ColumnProfile(_StrictModel):
    name: str
    type: str
    unit: str | None = None
    description: str = ""
    non_null: int
    nulls: int
    distinct: int = Field(description="approximate for large tables")
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    top_values: list[ValueCount] = Field(default_factory=list)
    histogram: list[HistogramBin] = Field(default_factory=list)
    by_month: list[PeriodCount] = Field(default_factory=list)

    @property
    def null_rate(self) -> float:
        total = self.non_null + self.nulls
        return self.nulls / total if total else 0.0


class TableProfile(_StrictModel):
    name: str
    role: str
    description: str = ""
    rows: int
    columns: list[ColumnProfile]

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"no profiled column '{name}' in table '{self.name}'")


class DatasetProfile(_StrictModel):
    tables: list[TableProfile]
    seconds: float = 0.0

    def table(self, name: str) -> TableProfile:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"no profiled table '{name}'; profiled: {[t.name for t in self.tables]}")

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)
