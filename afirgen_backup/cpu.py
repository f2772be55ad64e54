"""The CPU: a backup runs on what the database and the application leave free.

Niceness. A niceness only orders the threads of one scheduling group. Where the kernel groups processes by session
("autogroup": on by default in Debian's kernel and most others, and used for every process that is not in a CPU
cgroup of its own, i.e. outside containers and systemd slices), each session gets an equal share of a busy CPU
whatever the niceness of its processes: a backup at niceness 10 in its own session (cron starts one per job) still
takes as much CPU as the database server's whole session. What counts there is the niceness of the group itself,
/proc/PID/autogroup. So lower_priority(n) sets the niceness of the backup process (its threads and the children
it starts inherit it) and, where autogroups are on:
- a run without a controlling terminal (cron, a service) that does not lead its session yet moves into a session
  of its own, so that lowering its group lowers nothing else;
- the run's group gets niceness n, if the run leads its session.
A run in a terminal keeps the terminal's session (Ctrl-C must still reach it, and the terminal's other jobs must
not be slowed); only its children are lowered. Every child starts in a session of its own (process.spawn), and
lower_child_group() gives that group the run's niceness. In a container none of this matters: the container's
cgroup is the group, and its CPU weight counts (docker-compose.yaml gives the backup service a low `cpu_shares`).

Yielding (BACKUP_YIELD_CPU, on by default). On two cores the server's dump thread, mysqldump, the reader and the
compressor keep most cores busy, and an application thread that wakes up while both cores run backup work waits for
one of them to be preempted, however low the backup's priority. So while the application is busy, every thread of
the tool and mysqldump are confined to every allowed CPU but the lowest; QUIET_SECONDS after the last sign of
activity they get all of them back (confined, a backup takes longer: docs/performance.md has the figures). What
counts as activity each source says (sources/*: the server's write counters, sessions.db's files): any change of
what they read, POLL_SECONDS apart. Nothing is done with a single CPU, and a failure of the watcher ends the
confinement and never the backup.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

from afirgen_backup.logs import get_logger

AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")
POLL_SECONDS = 0.2
QUIET_SECONDS = 2.0


def autogroups_enabled() -> bool:
    try:
        return AUTOGROUP_SWITCH.read_text().strip() == "1"
    except OSError:
        return False


def has_controlling_terminal() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def set_group_niceness(pid: int | str, niceness: int) -> bool:
    """Set the niceness of the autogroup of `pid`; False when the kernel has none or the process is gone."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as handle:
            handle.write(str(niceness))
    except OSError:
        return False
    return True


def lower_priority(niceness: int) -> None:
    """Run this process, its threads and its children at `niceness` (never raise an inherited niceness)."""
    if niceness > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness <= 0 or not autogroups_enabled():
        return
    if os.getsid(0) != os.getpid():
        if has_controlling_terminal():
            return
        try:
            os.setsid()
        except PermissionError:  # a process group leader cannot start a session; its children are still lowered
            return
    set_group_niceness("self", niceness)


def lower_child_group(pid: int) -> None:
    """Give the group of a child that leads its own session this process's niceness (nothing at niceness 0)."""
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > 0 and autogroups_enabled():
        set_group_niceness(pid, niceness)


def cpus_to_keep(allowed: set[int]) -> set[int] | None:
    """The CPUs a confined backup may use: every allowed one but the lowest; None when only one is allowed."""
    if len(allowed) < 2:
        return None
    return set(sorted(allowed)[1:])


@dataclass
class Policy:
    """When to confine: from the first sign of activity until `quiet` seconds pass without one."""

    quiet: float = QUIET_SECONDS
    confined: bool = False
    last_activity: float = field(default=float("-inf"))
    previous: Hashable = None
    started: bool = False

    def observe(self, now: float, token: Hashable) -> bool | None:
        """Feed what the activity sources read (any change is activity); True to confine, False to release."""
        if self.started and token != self.previous:
            self.last_activity = now
        self.previous = token
        self.started = True
        want = now - self.last_activity < self.quiet
        if want == self.confined:
            return None
        self.confined = want
        return want


def apply_affinity(cpus: set[int], pids: list[int]) -> None:
    """Set the CPU affinity of every thread of this process and of the given processes (gone ones are skipped)."""
    targets = [int(tid) for tid in os.listdir("/proc/self/task")] + pids
    for target in targets:
        with contextlib.suppress(OSError):  # gone, or not ours
            os.sched_setaffinity(target, cpus)


class Yielder:
    """Watch for activity while a backup runs; adopt() each process the backup starts (mysqldump)."""

    def __init__(self, read_activity: Callable[[], Hashable], allowed: set[int] | None = None) -> None:
        self.read_activity = read_activity
        self.allowed = allowed if allowed is not None else os.sched_getaffinity(0)
        self.keep = cpus_to_keep(self.allowed)
        self.policy = Policy()
        self.children: list[int] = []
        self.confined_seconds = 0.0
        self.confinements = 0
        self._since = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def adopt(self, pid: int) -> None:
        with self._lock:
            self.children.append(pid)
            if self.policy.confined and self.keep is not None:
                apply_affinity(self.keep, [pid])

    def start(self) -> None:
        if self.keep is None:
            return
        self._thread = threading.Thread(target=self._run, name="cpu-yield", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self.policy.confined:
                self._release(time.monotonic())

    def _run(self) -> None:
        log = get_logger()
        try:
            while not self._stop.is_set():
                token = self.read_activity()
                now = time.monotonic()
                with self._lock:
                    change = self.policy.observe(now, token)
                    if change is True:
                        assert self.keep is not None
                        apply_affinity(self.keep, self.children)
                        self._since = now
                        self.confinements += 1
                    elif change is False:
                        self._release(now)
                self._stop.wait(POLL_SECONDS)
        except Exception as error:  # the monitor must never fail a backup
            log.warning("cpu_yield_stopped", error=f"{type(error).__name__}: {error}")
            with self._lock:
                if self.policy.confined:
                    self._release(time.monotonic())

    def _release(self, now: float) -> None:
        apply_affinity(self.allowed, self.children)
        self.policy.confined = False
        self.confined_seconds += now - self._since
