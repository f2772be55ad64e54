"""How a backup yields the CPU to the database and the application.

A niceness only orders the threads of one scheduling group. Where the kernel groups processes by session
("autogroup": on by default in Debian's kernel and most others, and used for every process that is not in a CPU
cgroup of its own, i.e. outside containers and systemd slices), each session gets an equal share of a busy CPU
whatever the niceness of its processes: a backup at niceness 10 in its own session (cron starts one per job)
still takes as much CPU as the database server's whole session. The benchmark measured it: the application's
p99 insert latency during a backup was 9-12x its idle p99 with niceness alone. What counts there is the
niceness of the group itself, /proc/PID/autogroup.

So lower_priority(n) sets the niceness of the backup process (its threads and the children it starts inherit
it) and, where autogroups are on:
- a run without a controlling terminal (cron, a service) that does not lead its session yet moves into a
  session of its own, so that lowering its group lowers nothing else;
- the run's group gets niceness n, if the run leads its session.
A run in a terminal keeps the terminal's session (Ctrl-C must still reach it, and the terminal's other jobs must
not be slowed); only its children are lowered. Every child starts in a session of its own (process.spawn), and
lower_child_group() gives that group the run's niceness.

In a container none of this matters: the container's cgroup is the group, and its CPU weight counts
(docker-compose.yaml gives the backup service a low `cpu_shares`); inside it the niceness orders the backup
after the container's other processes.
"""

from __future__ import annotations

import os
from pathlib import Path

AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")


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
