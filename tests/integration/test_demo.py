"""`make demo` runs the main job end to end, says what each step did, and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.mariadb


def test_the_demo_succeeds_says_each_step_and_removes_everything_it_started(tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("afirgen-demo-*"))

    result = subprocess.run(
        [sys.executable, "-m", "demo"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for step in ("server", "backup", "list", "verify", "status", "restore"):
        assert any(line.lstrip().startswith(step) for line in lines), result.stdout
    assert "restore-test" in result.stdout and "healthy" in result.stdout and "equal to" in result.stdout
    assert lines[-1].startswith("demo ok: every step succeeded")
    assert set(Path(tempfile.gettempdir()).glob("afirgen-demo-*")) == before
    started = [line for line in lines if line.lstrip().startswith("server")][0]
    datadir = Path(started.split("data in ")[1].rstrip(")"))
    assert not datadir.exists()
