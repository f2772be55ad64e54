"""Helpers for the container tests: the docker CLI against the chosen engine, and the containers it starts.

The engine is the one DOCKER_HOST names, else the socket of `../shared/tools/local-docker start`
(/var/lib/local-docker/docker.sock). It has no bridge network: images are built and containers run with
`--network host`, and reach the tests' MariaDB on 127.0.0.1. Without an engine these tests skip, with the
reason; under CI=true they fail instead.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCAL_DOCKER_SOCKET = "/var/lib/local-docker/docker.sock"
IMAGE = "afirgen-backup:test"


def docker_environment() -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("DOCKER_HOST") and os.path.exists(LOCAL_DOCKER_SOCKET):
        env["DOCKER_HOST"] = f"unix://{LOCAL_DOCKER_SOCKET}"
    return env


@dataclass
class Docker:
    """The docker CLI against the chosen engine."""

    env: dict[str, str]
    created: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def run(
        self, *args: str, check: bool = True, timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def volume(self) -> str:
        name = f"afirgen-test-{secrets.token_hex(4)}"
        self.run("volume", "create", name)
        self.volumes.append(name)
        return name

    def start(
        self,
        *,
        settings: Mapping[str, str],
        mounts: Sequence[str] = (),
        extra: Sequence[str] = (),
        image: str = IMAGE,
        command: Sequence[str] = (),
    ) -> Container:
        """`docker run -d` a new container. Values pass through this process's environment (`-e NAME`), so the
        docker CLI hands them over byte for byte: no shell and no env-file quoting stands in between."""
        name = f"afirgen-backup-test-{secrets.token_hex(4)}"
        args = ["run", "-d", "--name", name, "--network", "host"]
        for key in settings:
            args += ["-e", key]
        for mount in mounts:
            args += ["-v", mount]
        self.created.append(name)
        self.run(*args, *extra, image, *command, env=settings)
        return Container(self, name)

    def cleanup(self) -> None:
        for name in self.created:
            self.run("rm", "-f", "-v", name, check=False)
        for name in self.volumes:
            self.run("volume", "rm", "-f", name, check=False)
        self.created.clear()
        self.volumes.clear()


@dataclass
class Container:
    docker: Docker
    name: str

    def exec(self, *command: str, user: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        args = ["exec"] + (["-u", user] if user else []) + [self.name, *command]
        return self.docker.run(*args, check=False, timeout=timeout)

    def logs(self) -> str:
        result = self.docker.run("logs", self.name, check=False)
        return result.stdout + result.stderr

    def inspect(self) -> dict[str, Any]:
        return json.loads(self.docker.run("inspect", self.name).stdout)[0]

    def state(self) -> dict[str, Any]:
        return self.inspect()["State"]

    def wait_for_log(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            logs = self.logs()
            if text in logs:
                return logs
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the logs of {self.name} after {timeout}s:\n{logs[-4000:]}")
            if not self.state()["Running"]:
                raise AssertionError(f"{self.name} stopped before {text!r} appeared:\n{logs[-4000:]}")
            time.sleep(0.5)

    def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.state()["Running"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {timeout}s:\n{self.logs()[-4000:]}")
            time.sleep(0.3)
        return int(self.state()["ExitCode"])
