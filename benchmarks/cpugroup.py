"""An idle CPU cgroup for the benchmark's second deployment of the backup (`cpu.idle` = 1, Linux 5.15+).

The kernel runs the tasks of an idle group only when no other group wants the CPU, and preempts them at once when
one does: the group-level counterpart of SCHED_IDLE (which inside one group cannot make a whole group yield). A
container started under an idle parent group (compose: BACKUP_CGROUP_PARENT, README "Sharing the CPU") is
scheduled the same way, whatever its own weight.
Creating a group needs root and a writable cpu controller (cgroup v1 `/sys/fs/cgroup/cpu`, or the cgroup v2
root); the benchmark skips this deployment, and says so, where it cannot.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

NAME = "afirgen-bench-idle"
V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")


class IdleGroup:
    def __init__(self) -> None:
        self.path: Path | None = None
        self.reason = ""

    def create(self) -> bool:
        for parent, enable in ((V1, None), (V2, V2 / "cgroup.subtree_control")):
            if not (parent / "cgroup.procs").exists():
                continue
            try:
                if enable is not None:
                    if "cpu" not in (parent / "cgroup.controllers").read_text().split():
                        continue
                    enable.write_text("+cpu")
                group = parent / NAME
                group.mkdir(exist_ok=True)
                (group / "cpu.idle").write_text("1")
            except OSError as error:
                self.reason = f"{parent}: {error.strerror}"
                continue
            self.path = group
            return True
        self.reason = self.reason or "no cgroup cpu controller with cpu.idle"
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
