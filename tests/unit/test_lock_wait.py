"""The lock on BACKUP_DIR: a run that may wait (a sessions snapshot) waits for it within its bound, and gives way
with LockBusy, naming the holder and the wait, when the bound passes."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from afirgen_backup.errors import LockBusy
from afirgen_backup.lock import LOCK_NAME, backup_dir_lock


def held_elsewhere(directory: Path) -> int:
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_without_a_wait_a_held_lock_is_busy_at_once(tmp_path: Path) -> None:
    fd = held_elsewhere(tmp_path)
    try:
        began = time.monotonic()
        with pytest.raises(LockBusy) as refused, backup_dir_lock(tmp_path):
            pass
        assert time.monotonic() - began < 0.4
        assert "waited" not in str(refused.value)
    finally:
        os.close(fd)


def test_a_wait_that_outlasts_the_holder_takes_the_lock(tmp_path: Path) -> None:
    fd = held_elsewhere(tmp_path)
    threading.Timer(1.0, os.close, (fd,)).start()
    began = time.monotonic()
    with backup_dir_lock(tmp_path, wait_s=30):
        waited = time.monotonic() - began
    assert 0.9 <= waited < 5


def test_a_wait_gives_way_at_its_bound_naming_it(tmp_path: Path) -> None:
    fd = held_elsewhere(tmp_path)
    try:
        began = time.monotonic()
        with pytest.raises(LockBusy) as refused, backup_dir_lock(tmp_path, wait_s=1.2):
            pass
        assert 1.2 <= time.monotonic() - began < 3
        assert "(waited 1.2 s)" in str(refused.value) and str(tmp_path / LOCK_NAME) in str(refused.value)
    finally:
        os.close(fd)


def test_a_run_that_waits_for_snapshots_waits_for_one_but_not_for_another_holder(tmp_path: Path) -> None:
    fd = held_elsewhere(tmp_path)
    os.write(fd, b"4242 snapshot\n")
    threading.Timer(1.0, os.close, (fd,)).start()
    with backup_dir_lock(tmp_path, snapshot_wait_s=30):
        pass

    fd = held_elsewhere(tmp_path)
    os.ftruncate(fd, 0)
    os.pwrite(fd, b"4242 run\n", 0)
    try:
        began = time.monotonic()
        with pytest.raises(LockBusy) as refused, backup_dir_lock(tmp_path, snapshot_wait_s=30):
            pass
        assert time.monotonic() - began < 0.4
        assert "(pid 4242)" in str(refused.value)
    finally:
        os.close(fd)


def test_a_holder_that_has_not_said_who_it_is_yet_gets_a_moment(tmp_path: Path) -> None:
    fd = held_elsewhere(tmp_path)
    os.ftruncate(fd, 0)
    try:
        began = time.monotonic()
        with pytest.raises(LockBusy), backup_dir_lock(tmp_path, snapshot_wait_s=30):
            pass
        assert 0.9 <= time.monotonic() - began < 3
    finally:
        os.close(fd)
