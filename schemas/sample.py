"""Learn-from-sample mode: SDV's scores of the synthetic data against the author's sample.

SDV reports two things: a **diagnostic** (is the synthetic data valid: keys unique, values inside
the sample's ranges and categories, tables shaped alike, foreign keys resolving) and a **quality**
score (how close the statistics are: column shapes, column-pair trends, children per parent,
trends across tables). Both are 0-1; this model keeps them with per-property and per-table details
for the quality report and the PDF.
"""

from __future__ import annotations

from pydantic import Field

from schemas.spec import _StrictModel


class TableSdvScore(_StrictModel):
    """One table's share of the scores: rows on each side and its per-property averages (0-1)."""

    table: str
    sample_rows: int
    synthetic_rows: int
    diagnostic: dict[str, float] = Field(default_factory=dict, description="property -> score for this table")
    quality: dict[str, float] = Field(default_factory=dict, description="property -> score for this table")


class SdvScores(_StrictModel):
    """SDV's diagnostic and quality reports of a synthetic dataset versus its sample."""

    diagnostic: float = Field(ge=0, le=1, description="overall diagnostic score (validity and structure)")
    diagnostic_properties: dict[str, float] = Field(
        default_factory=dict, description="e.g. Data Validity, Data Structure, Relationship Validity"
    )
    quality: float = Field(ge=0, le=1, description="overall quality score (statistical similarity)")
    quality_properties: dict[str, float] = Field(
        default_factory=dict, description="e.g. Column Shapes, Column Pair Trends, Cardinality, Intertable Trends"
    )
    tables: list[TableSdvScore] = Field(default_factory=list)
    method: str = Field("", description="how the data was synthesized, e.g. gaussian_copula_per_table")
    scored_rows: dict[str, int] = Field(
        default_factory=dict, description="synthetic rows per table the scores were computed on"
    )
    notes: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def validity(self) -> float | None:
        """The diagnostic's Data Validity property (keys, ranges, categories), when reported."""
        return self.diagnostic_properties.get("Data Validity")

    @property
    def relationship_validity(self) -> float | None:
        """The diagnostic's Relationship Validity property (foreign keys, cardinality bounds)."""
        return self.diagnostic_properties.get("Relationship Validity")
