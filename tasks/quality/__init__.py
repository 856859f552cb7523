"""Quality validation in 8 categories: spec-derived checks, GX suites as the contract, one report.

``run_quality`` validates tables in memory (phase 4); ``validate_package`` validates a package
ZIP or folder (the CLI); ``render_report_table`` prints a report by category.
"""

from tasks.quality.package_io import read_package, validate_package
from tasks.quality.render import render_report_table
from tasks.quality.run import run_quality

__all__ = ["read_package", "render_report_table", "run_quality", "validate_package"]
