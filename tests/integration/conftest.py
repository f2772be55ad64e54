"""Fixtures of the end-to-end tests (the server, users and databases are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from helpers import run_cli


@pytest.fixture
def backed_up(backup_env: dict[str, str]) -> dict[str, str]:
    """The test's settings, after one successful backup with them."""
    result = run_cli(backup_env, "backup")
    assert result.returncode == 0, result.stderr
    return backup_env
