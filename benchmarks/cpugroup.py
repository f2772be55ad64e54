"""CPU cgroups for the benchmark's deployments of the backup: the container's CPU settings, and an idle group.

- `CpuGroup.idle()`: `cpu.idle` = 1 (Linux 5.15+). The kernel runs the tasks of an idle group only when no other
  group wants the CPU, and preempts them at once when one does: the group-level counterpart of SCHED_IDLE (which
  inside one group cannot make a whole group yield). A container whose cgroup parent is such a group (compose:
  BACKUP_CGROUP_PARENT, README "Sharing the CPU") is scheduled the same way, whatever its own weight.
- `CpuGroup.container(shares, cpus)`: the weight and the CPU quota a compose file gives a container (`cpu_shares`,
  `cpus`), for measuring what those settings cost and bring.

Creating a group needs root and a writable cpu controller (cgroup v1 `/sys/fs/cgroup/cpu`, or the cgroup v2
root); the benchmark skips the deployment, and says so, where it cannot.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def v2_weight(shares: int) -> int:
    """cgroup v1 cpu.shares as a v2 cpu.weight, the conversion container runtimes use."""
    return 1 + ((shares - 2) * 9999) // 262142


class CpuGroup:
    def __init__(self, name: str, *, idle: bool = False, shares: int | None = None, cpus: float | None = None):
        self.name = name
        self.idle = idle
        self.shares = shares
        self.cpus = cpus
        self.path: Path | None = None
        self.reason = ""

    @classmethod
    def idle_group(cls) -> CpuGroup:
        return cls("afirgen-bench-idle", idle=True)

    @classmethod
    def container(cls, shares: int, cpus: float) -> CpuGroup:
        return cls("afirgen-bench-container", shares=shares, cpus=cpus)

    def describe(self) -> str:
        if self.idle:
            return "cpu.idle=1"
        return f"cpu_shares {self.shares}, cpus {self.cpus:g}"

    def settings(self, v1: bool) -> list[tuple[str, str]]:
        files: list[tuple[str, str]] = []
        if self.idle:
            files.append(("cpu.idle", "1"))
        if self.shares is not None:
            files.append(("cpu.shares", str(self.shares)) if v1 else ("cpu.weight", str(v2_weight(self.shares))))
        if self.cpus is not None:
            quota = int(self.cpus * PERIOD_US)
            if v1:
                files += [("cpu.cfs_period_us", str(PERIOD_US)), ("cpu.cfs_quota_us", str(quota))]
            else:
                files.append(("cpu.max", f"{quota} {PERIOD_US}"))
        return files

    def create(self) -> bool:
        for parent, enable in ((V1, None), (V2, V2 / "cgroup.subtree_control")):
            if not (parent / "cgroup.procs").exists():
                continue
            try:
                if enable is not None:
                    if "cpu" not in (parent / "cgroup.controllers").read_text().split():
                        continue
                    enable.write_text("+cpu")
                group = parent / self.name
                group.mkdir(exist_ok=True)
                for name, value in self.settings(v1=enable is None):
                    (group / name).write_text(value)
            except OSError as error:
                self.reason = f"{parent}: {error.strerror}"
                continue
            self.path = group
            return True
        self.reason = self.reason or "no cgroup cpu controller"
        return False

    def joiner(self) -> Callable[[], None]:
        """A preexec_fn that moves the child into the group before it runs the command."""
        assert self.path is not None
        procs = str(self.path / "cgroup.procs")

        def join() -> None:
            with open(procs, "w") as handle:
                handle.write(str(os.getpid()))

        return join

    def remove(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()
