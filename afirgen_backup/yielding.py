"""While the application is busy, a backup leaves it a CPU of its own (BACKUP_YIELD_CPU, on by default).

Measured on two cores (benchmarks/README.md): the server's dump thread, mysqldump, the reader and the
compressor together keep most cores busy, and an application thread that wakes up while both cores run backup
work waits for one of them to be preempted, however low the backup's priority. The application's p99 insert
latency was about 4.7 ms (idle: about 0.8 ms) with the backup at niceness 10 in its own CPU group, and 2.4-3.2
ms with the tool and mysqldump confined to one of the two CPUs. Confined, the backup takes longer (about 2x the
bare dump instead of 1.4-1.5x on two cores), so it is confined only while the application is busy.

Busy means: the server's write counters (Com_insert, Com_update, Com_delete, ...) grew, read every POLL_SECONDS
over a connection of the watcher's own (mysqldump never writes and the watcher only reads, so any growth is the
application's), or sessions.db or its -wal file changed (the backup only reads them). On the first sign, every
thread of the tool and mysqldump are confined to every allowed CPU but the lowest; QUIET_SECONDS after the last
sign they get all of them back. Nothing is done with a single CPU, and a failure of the watcher (a lost
connection, a refused query) ends the confinement and never the backup.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afirgen_backup.logs import get_logger
from afirgen_backup.sources import sqlite

POLL_SECONDS = 0.2
QUIET_SECONDS = 2.0
WRITE_COUNTERS = (
    "Com_insert",
    "Com_insert_select",
    "Com_update",
    "Com_update_multi",
    "Com_delete",
    "Com_delete_multi",
    "Com_replace",
    "Com_replace_select",
    "Com_load",
)
STATUS_QUERY = "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(", ".join(f"'{c}'" for c in WRITE_COUNTERS))


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


class ServerWrites:
    """The sum of the server's write counters, over a connection of the watcher's own.

    The connection is opened by the watcher thread on its first read, so that a slow or unreachable server never
    delays the backup itself; after a failure the last value is returned (no activity) and the failure is logged
    once. close() after the watcher has stopped.
    """

    def __init__(self, connect: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self.connect = connect
        self.stack = contextlib.ExitStack()
        self.cursor: Any = None
        self.failed = False
        self.last: int | None = None

    def __call__(self) -> int | None:
        if self.failed:
            return self.last
        try:
            if self.cursor is None:
                connection = self.stack.enter_context(self.connect())
                self.cursor = self.stack.enter_context(connection.cursor())
            self.cursor.execute(STATUS_QUERY)
            self.last = sum(int(value) for _, value in self.cursor.fetchall())
        except Exception as error:  # noqa: BLE001 - watching must never fail the backup
            self.failed = True
            get_logger().warning("cpu_yield_cannot_watch_mysql", error=f"{type(error).__name__}: {error}")
        return self.last

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stack.close()


def file_changes(path: Path) -> Callable[[], tuple[tuple[int, int, int] | None, ...]]:
    """Inode, size and mtime (sqlite.file_state without the ctime) of an SQLite file and of its -wal and -journal
    files; None for a missing one.

    Only a write changes these. The ctime is left out: SQLite, running as root, fchowns a -wal it opens to the
    database's owner, which moves the ctime without a write, so the backup's own read of sessions.db would look
    like the application's activity.
    """
    paths = [path, *(sqlite.sidecar(path, suffix) for suffix in sqlite.JOURNAL_SUFFIXES)]

    def read() -> tuple[tuple[int, int, int] | None, ...]:
        result: list[tuple[int, int, int] | None] = []
        for item in paths:
            try:
                inode, size, mtime, _ctime = sqlite.file_state(item)
            except OSError:
                result.append(None)
                continue
            result.append((inode, size, mtime))
        return tuple(result)

    return read
