"""The generation engine: spec -> resolved plan -> chunks -> tables (same spec + seed -> same rows)."""

from tasks.engine.generate import generate_dataset, run_dataset
from tasks.engine.output import DatasetFiles, generate_to_files
from tasks.engine.planner import ResolvedPlan, resolve_plan
from tasks.engine.scenarios import measure_scenarios

__all__ = [
    "DatasetFiles",
    "ResolvedPlan",
    "generate_dataset",
    "generate_to_files",
    "measure_scenarios",
    "resolve_plan",
    "run_dataset",
]
