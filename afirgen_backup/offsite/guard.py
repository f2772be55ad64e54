"""How long the store may hold a command, and a quick end to its requests on SIGTERM/SIGINT.

botocore's timeouts are per socket operation: an endpoint that sends a byte every few seconds never trips one, a
request waiting for an answer when the process is told to stop is retried, and a thread of a multipart upload
blocked in a read holds the whole process. So while a store is `watched`, once its deadline has passed or a signal
was received:

- no request is sent and none retried: botocore's before-send and needs-retry events raise the deadline's error
  or Interrupted (check_stop), in whichever thread made the request; only the abort of a multipart upload, the
  cleanup of what was cut, is still sent;
- every TCP connection the process opened since the watch began is shut down (by a watcher thread, within
  POLL_SECONDS, and again every CLEANUP_SECONDS while the work goes on), so that a read blocked on one returns at
  once. Sockets that were open before (none of them the store's) are left alone: they are told apart by their
  inode, read from /proc/self/fd.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from afirgen_backup import process
from afirgen_backup.errors import Interrupted

T = TypeVar("T")
POLL_SECONDS = 0.5
CLEANUP_SECONDS = 15  # after a cut, what the cleanup's requests get before the connections are cut again
FD_DIR = "/proc/self/fd"


class Deadline:
    """When the store's work must be over (monotonic seconds; inf: no bound but the signals)."""

    def __init__(self, seconds: float, exceeded: type[Exception], why: str) -> None:
        self.ends = time.monotonic() + seconds if math.isfinite(seconds) else math.inf
        self.exceeded = exceeded
        self.why = why

    @property
    def over(self) -> bool:
        return process.received is not None or time.monotonic() >= self.ends

    def check_stop(self, **_: object) -> None:
        """Raise Interrupted after a signal, `exceeded` once the deadline has passed (a botocore event handler)."""
        if process.received is not None:
            raise Interrupted(process.received)
        if time.monotonic() >= self.ends:
            raise self.exceeded(self.why)

    def check_request(self, event_name: str = "", **_: object) -> None:
        """check_stop for a request about to be sent, but for the cleanup of what was cut: the abort of a
        multipart upload goes out all the same (on a connection of its own, with CLEANUP_SECONDS to finish)."""
        if not event_name.endswith(".AbortMultipartUpload"):
            self.check_stop()


def socket_inodes() -> dict[int, int]:
    """{fd: inode} of this process's open sockets."""
    found = {}
    with contextlib.suppress(OSError):
        for name in os.listdir(FD_DIR):
            with contextlib.suppress(OSError):
                link = os.readlink(f"{FD_DIR}/{name}")
                if link.startswith("socket:["):
                    found[int(name)] = int(link[len("socket:[") : -1])
    return found


def shut_down_sockets_except(kept: set[int]) -> int:
    """Shut down (both ways) every TCP socket of the process whose inode is not in `kept`; how many."""
    count = 0
    for fd, inode in socket_inodes().items():
        if inode in kept:
            continue
        try:
            copy = os.dup(fd)  # the descriptor may be closed, even reused, meanwhile: check what the copy is
        except OSError:
            continue
        info = os.fstat(copy)  # a descriptor of our own: it cannot fail
        if not stat.S_ISSOCK(info.st_mode) or info.st_ino != inode:
            os.close(copy)
            continue
        with socket.socket(fileno=copy) as sock, contextlib.suppress(OSError):  # the socket object owns the copy
            if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
                sock.shutdown(socket.SHUT_RDWR)
                count += 1
    return count


@contextlib.contextmanager
def connections_cut_when_over(deadline: Deadline) -> Iterator[None]:
    """While inside, a watcher thread shuts down the connections opened since entry once `deadline` is over."""
    kept = set(socket_inodes().values())
    done = threading.Event()

    def watch() -> None:
        next_cut = 0.0
        while not done.wait(POLL_SECONDS):
            if deadline.over and time.monotonic() >= next_cut:
                shut_down_sockets_except(kept)
                next_cut = time.monotonic() + CLEANUP_SECONDS

    watcher = threading.Thread(target=watch, name="offsite-deadline", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def run_within(deadline: Deadline, work: Callable[[], T]) -> T:
    """work() in a thread of its own, waited for until the deadline is over (then its error, or Interrupted): for
    what no connection cutting can end, such as a credential_process that hangs. A thread given up on is left to
    end with the process."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="offsite-bounded", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(POLL_SECONDS)
        if worker.is_alive():
            deadline.check_stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
