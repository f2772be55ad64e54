"""Nothing a run starts outlives it: a child is stopped with its whole process group, not only the child itself.

MYSQLDUMP_BIN may be a wrapper script that runs the real mysqldump (and anything else) as its own children, without
exec. Each child of the tool leads a process group of its own (process.spawn starts a new session), so the tool
stops that group: on SIGTERM, on an error mid-dump (Child.stop), from the signal handler (stop_all_children), and
what a child leaves behind when it exits. Survivors are looked for in /proc by their process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    add_bulk_table,
    describe,
    finish,
    leftovers_in,
    run_cli,
    small_tmpfs,
    stalled_mid_dump,
    start_cli,
    wait_for,
)
from mariadb_server import BackupUser, MariaDBServer

from afirgen_backup import process

#: a_bulk for the mid-dump test: 24 MB of text, several times the pipe (1 MB) plus both socket buffers.
BULK_ROWS = 384


def group_members(group: int) -> dict[int, str]:
    """pid -> command name of every live (not zombie) process whose process group is `group`."""
    members = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == group and state not in ("Z", "X"):
            members[int(entry)] = name
    return members


def assert_no_survivors(group: int, timeout: float = 3.0) -> None:
    """No process of the group is alive (a killed process may take a moment to go)."""
    deadline = time.monotonic() + timeout
    while (left := group_members(group)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert left == {}, f"survivors of process group {group}: {left}"


@contextlib.contextmanager
def killed_afterwards(groups: list[int]) -> Iterator[list[int]]:
    """Whatever the test finds, no sleep 1000 is left on the machine after it."""
    try:
        yield groups
    finally:
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)


def unique_sleep() -> str:
    """`sleep 1000.<n>`: a sleep of this test alone."""
    return f"sleep 1000.{os.getpid()}{time.monotonic_ns() % 100000}"


# --- the seam itself: Child.stop, stop_all_children, Child.wait ------------------------------------------------


def spawn_shell(script: str) -> process.Child:
    return process.spawn(["/bin/sh", "-c", script])


def wait_for_members(group: int, count: int) -> dict[int, str]:
    return wait_for(lambda: len(group_members(group)) >= count and group_members(group), 10, f"{count} members")


def test_child_stop_stops_the_grandchildren_of_a_wrapper_too() -> None:
    child = spawn_shell(f"{unique_sleep()} & {unique_sleep()}; echo never")
    with killed_afterwards([child.process.pid]):
        members = wait_for_members(child.process.pid, 3)
        assert sorted(members.values()) == ["sh", "sleep", "sleep"], members

        child.stop()

        assert child.process.returncode == -signal.SIGTERM
        assert_no_survivors(child.process.pid)


def test_stop_all_children_stops_every_group() -> None:
    children = [spawn_shell(f"{unique_sleep()} & {unique_sleep()}") for _ in range(2)]
    with killed_afterwards([child.process.pid for child in children]):
        for child in children:
            wait_for_members(child.process.pid, 3)

        process.stop_all_children()

        for child in children:
            assert_no_survivors(child.process.pid)


def test_a_group_member_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    child = spawn_shell(f"trap '' TERM; {unique_sleep()} & {unique_sleep()} & wait")
    with killed_afterwards([child.process.pid]):
        wait_for_members(child.process.pid, 3)
        began = time.monotonic()

        process.stop_process(child.process, grace=0.5)

        assert 0.5 <= time.monotonic() - began < 3
        assert child.process.returncode == -signal.SIGKILL
        assert_no_survivors(child.process.pid, timeout=1)
        process.forget_child(child.process)


def test_a_leader_that_is_gone_still_has_its_group_stopped() -> None:
    """The wrapper exited on its own (say it was killed); what it started is still in its group."""
    child = spawn_shell(f"{unique_sleep()} > /dev/null 2>&1 & exit 3")
    with killed_afterwards([child.process.pid]):
        wait_for(lambda: child.process.poll() is not None, 10, "the wrapper to exit")
        assert list(group_members(child.process.pid).values()) == ["sleep"]

        child.stop()

        assert_no_survivors(child.process.pid)


def test_what_a_child_leaves_running_when_it_exits_is_stopped() -> None:
    script = f"{unique_sleep()} > /dev/null 2>&1 & echo done"
    child = process.spawn(["/bin/sh", "-c", script])
    with killed_afterwards([child.process.pid]):
        assert child.stdout.read() == b"done\n"

        assert child.wait() == 0

        assert_no_survivors(child.process.pid)


def test_a_child_that_ends_cleanly_costs_no_grace_period() -> None:
    began = time.monotonic()
    assert process.run([sys.executable, "-c", "print('ok')"]) == "ok\n"
    assert time.monotonic() - began < 2


# --- the real CLI with a real wrapper around the real mysqldump ----------------------------------------------


def write_wrapper(directory: Path) -> tuple[Path, Path]:
    """A MYSQLDUMP_BIN that starts `sleep 1000.N &` and then the real mysqldump as its child (no exec); it writes its
    pid (its process group: it leads one) into the returned file."""
    real = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    assert real, "no mariadb-dump or mysqldump on PATH"
    pid_file = directory / "wrapper.pid"
    script = directory / "dump-wrapper.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then exec {real} --version; fi\n'
        f"echo $$ > {pid_file}\n"
        f"{unique_sleep()} &\n"
        f'{real} "$@"\n'
    )
    script.chmod(0o755)
    return script, pid_file


@pytest.mark.mariadb
def test_sigterm_mid_dump_stops_the_wrapper_its_sleep_and_the_real_mysqldump(
    mariadb: MariaDBServer, backup_user: BackupUser, fir_db: str, backup_env: dict[str, str], tmp_path: Path
) -> None:
    add_bulk_table(mariadb, fir_db, BULK_ROWS)
    wrapper, pid_file = write_wrapper(tmp_path)
    backup_env["MYSQLDUMP_BIN"] = str(wrapper)
    groups: list[int] = []
    with killed_afterwards(groups):
        cli = start_cli(backup_env)
        with stalled_mid_dump(cli, mariadb, backup_user.user) as dump_pid:
            groups.append(int(pid_file.read_text()))
            members = group_members(groups[0])
            assert dump_pid in members and sorted(members.values()) == sorted(
                ["dump-wrapper.sh", "sleep", members[dump_pid]]
            ), members
            os.kill(cli.pid, signal.SIGTERM)
        result = finish(cli)

        assert result.returncode == 143, describe(result)
        assert_no_survivors(groups[0])
        assert leftovers_in(Path(backup_env["BACKUP_DIR"])) == []


@pytest.mark.mariadb
def test_a_dump_that_fails_mid_way_has_its_wrapper_and_all_it_started_stopped(
    mariadb: MariaDBServer, fir_db: str, backup_env: dict[str, str], tmp_path: Path
) -> None:
    """The error path: the disk fills up mid-dump, the part fails, and Child.stop stops the wrapper's group."""
    add_bulk_table(mariadb, fir_db, 6, 1024 * 1024, random=True)  # 6 MB of random bytes for a 4 MB disk
    wrapper, pid_file = write_wrapper(tmp_path)
    backup_dir = tmp_path / "small-disk"
    backup_env.update({"MYSQLDUMP_BIN": str(wrapper), "BACKUP_DIR": str(backup_dir)})
    groups: list[int] = []
    with killed_afterwards(groups):
        result = run_cli(backup_env, wrapper=small_tmpfs(backup_dir, "4m"), timeout=300)
        groups.append(int(pid_file.read_text()))

        assert result.returncode == 1, describe(result)
        assert "No space left on device" in result.stderr, describe(result)
        assert_no_survivors(groups[0])
