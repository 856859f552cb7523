"""The challenge spec and the models every phase exchanges. No I/O, no Prefect."""

from schemas.errors import DataFactoryError, SpecError
from schemas.serialize import spec_from_json, spec_from_yaml, spec_to_json, spec_to_yaml
from schemas.spec import ChallengeSpec, ColumnSpec, QuestionSpec, ScenarioSpec, TableSpec

__all__ = [
    "ChallengeSpec",
    "ColumnSpec",
    "DataFactoryError",
    "QuestionSpec",
    "ScenarioSpec",
    "SpecError",
    "TableSpec",
    "spec_from_json",
    "spec_from_yaml",
    "spec_to_json",
    "spec_to_yaml",
]
