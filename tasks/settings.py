"""Runtime knobs (not part of the spec): where output goes, which designer, storage, gates.

Read from ``DATAFACTORY_*`` environment variables; tests pass values to the constructor.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_domains_dir() -> Path:
    """The checkout's ``domains/`` (source tree, editable install), else the copy a wheel installs.

    A wheel puts the blueprints under ``<prefix>/share/datafactory/domains`` (pyproject's data-files).
    """
    here = PROJECT_ROOT / "domains"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "datafactory" / "domains"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATAFACTORY_", extra="ignore")

    output_dir: Path = Field(Path("datafactory-output"), description="runs, packages and work files")
    domains_dir: Path = Field(default_factory=default_domains_dir, description="blueprint library")
    storage: str = Field("", description="'' or a folder for local storage; s3://bucket/prefix for S3")
    story_gate: Literal["auto", "block", "report"] = Field(
        "auto",
        description="auto: story-check defects fail the quality verdict (an automatic run does not package) when "
        "the largest fact table has at least story_min_rows rows, and are only reported below that (a planted "
        "story needs rows to show); block: always fail it; report: list them in the report and the PDF only",
    )
    story_min_rows: int = Field(3_000, ge=1, description="rows a fact table needs before story checks block")
    s3_endpoint_url: str | None = Field(None, description="custom S3 endpoint (MinIO and similar)")
    s3_region: str | None = None
    gate_poll_seconds: float = Field(2.0, gt=0, description="how often a paused run checks for an answer")
    gate_timeout_seconds: int = Field(7 * 24 * 3600, gt=0, description="how long a gate waits for a person")
    max_attempts: int = Field(3, ge=1, description="regenerations allowed per gate")
    preview_rows: int = Field(20, ge=10, le=30)
    chunk_rows: int = Field(250_000, ge=1_000, description="rows per generated Parquet part")
    dask_address: str | None = Field(None, description="Dask scheduler for generation chunks, e.g. tcp://host:8786")
    dask_workers: int = Field(0, ge=0, description="start a local Dask cluster of this many processes (0 = off)")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1")
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str | None = Field(None, description="falls back to OPENAI_API_KEY")
    llm_max_repairs: int = Field(2, ge=0)
    llm_design: Literal["spec", "parts"] = Field(
        "spec",
        description="spec: the model writes the whole spec (capable models); parts: it reads the brief and picks "
        "the composer's shape and role nouns, and the composer builds the spec (small local models)",
    )
    # limits on question SQL (which may come from a model): every sandboxed query runs under them
    sql_timeout_seconds: float = Field(30.0, gt=0, description="wall-clock limit of one question's SQL")
    sql_memory_limit: str = Field(
        "40%", min_length=1, description="DuckDB memory_limit of one SQL sandbox (its tables included): '4GB', '40%'"
    )
    sql_threads: int = Field(2, ge=1, description="DuckDB threads of one SQL sandbox")
    sql_max_rows: int = Field(1_000_000, ge=1, description="rows a question's result may have")
    # run size: refused before any work when the plan's estimate is above these (or above the free disk)
    max_rows: int = Field(100_000_000, ge=1, description="rows of all generated tables together")
    max_bytes: int = Field(50 * 10**9, ge=1, description="estimated bytes of the generated data (Parquet and CSV)")

    @field_validator("output_dir")
    @classmethod
    def absolute_output_dir(cls, value: Path) -> Path:
        # artifacts, cached results and GX data docs need a path that means the same from any process
        return Path(value).expanduser().resolve()


def get_settings() -> Settings:
    return Settings()
