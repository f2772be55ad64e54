"""Fixtures for the container tests: a Docker engine, the image built once per session, containers that go away.

Without an engine these tests skip with the reason; under CI=true they fail (see docker_helpers).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from docker_helpers import IMAGE, REPO, Docker, docker_environment
from infrastructure import unavailable


@pytest.fixture(scope="session")
def docker() -> Iterator[Docker]:
    """A Docker engine that answers, or skip (fail under CI) naming what is missing."""
    if shutil.which("docker") is None:
        unavailable('no docker CLI: run `eval "$(../shared/tools/local-docker start)"` first')
    env = docker_environment()
    try:
        answer = subprocess.run(["docker", "info"], env=env, capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        unavailable(f"the Docker engine at {env.get('DOCKER_HOST', 'the default socket')} does not answer")
    if answer.returncode != 0:
        unavailable(
            f"no Docker engine answers at {env.get('DOCKER_HOST', 'the default socket')}: "
            f'{answer.stderr.strip()[:300]} (start one with `eval "$(../shared/tools/local-docker start)"`)'
        )
    engine = Docker(env)
    try:
        yield engine
    finally:
        engine.cleanup()


@pytest.fixture(scope="session")
def backup_image(docker: Docker) -> str:
    """Dockerfile.backup built once per session (layers cached by the engine between sessions)."""
    dockerfile = str(REPO / "Dockerfile.backup")
    result = docker.run(
        "build", "--network", "host", "-f", dockerfile, "-t", IMAGE, str(REPO), check=False, timeout=900
    )
    assert result.returncode == 0, f"docker build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return IMAGE


@pytest.fixture
def containers(docker: Docker) -> Iterator[Docker]:
    """The engine, removing this test's containers and volumes afterwards."""
    own = Docker(docker.env)
    try:
        yield own
    finally:
        own.cleanup()
