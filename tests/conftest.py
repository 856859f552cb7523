"""Shared fixtures. Prefect gets a throwaway home before anything imports it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="datafactory-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def retail_spec():
    from tasks.domains import load_blueprint

    # one file, not the whole library: a broken blueprint elsewhere must not fail unrelated tests
    return load_blueprint(ROOT / "domains" / "retail_ecommerce.yaml").spec
