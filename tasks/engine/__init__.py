"""The generation engine: spec -> resolved plan -> tables (same spec + seed -> same rows)."""

from tasks.engine.generate import generate_dataset
from tasks.engine.planner import ResolvedPlan, resolve_plan
from tasks.engine.scenarios import measure_scenarios

__all__ = ["ResolvedPlan", "generate_dataset", "measure_scenarios", "resolve_plan"]
