"""Missing test infrastructure (a server binary, a Docker engine, a kernel feature) skips a test, except under
CI=true, where it fails it: nothing skips silently in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def running_in_ci() -> bool:
    """True when CI=true (or 1/yes) is set: missing infrastructure is then a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI, because the test infrastructure is missing."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true: not skipping)", pytrace=False)
    pytest.skip(reason)
