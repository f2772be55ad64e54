"""The one seam through which child processes are started.

Every child gets an argv tuple (never a shell string) and a scrubbed environment. MySQL clients get their
credentials from a `--defaults-extra-file=/dev/fd/N` that is the read end of a pipe the child inherits, so the
password is in no command line, no environment and no file on disk. Children are tracked so that a signal
handler can stop them; their stderr is kept (the last lines) for error messages.

Each child leads a process group of its own (a session: start_new_session), and stopping it stops that whole
group: a MYSQLDUMP_BIN that is a wrapper script runs the real mysqldump, and maybe more, as its own children,
and none of them may outlive the run. What a child leaves running in its group when it exits is stopped too.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from afirgen_backup import cpu
from afirgen_backup.errors import CommandFailed, Interrupted

# What a child may inherit from our environment. Nothing else passes: no MYSQL_PWD or password, and no HOME,
# so that a ~/.my.cnf (read after --defaults-extra-file) cannot replace the credentials we hand over.
INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
STDERR_TAIL_LINES = 20
STOP_GRACE_S = 5.0  # from SIGTERM to SIGKILL for a child's process group
GROUP_POLL_S = 0.02

_children: set[subprocess.Popen[bytes]] = set()
_children_lock = threading.Lock()


def scrubbed_environment() -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    return env


def option_file_value(value: str) -> str:
    """Quote a value for a MySQL/MariaDB option file: double quotes, with backslash and quote escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def client_option_text(user: str, password: str) -> bytes:
    lines = ["[client]", f"user={option_file_value(user)}", f"password={option_file_value(password)}", ""]
    return "\n".join(lines).encode("utf-8")


@contextlib.contextmanager
def credentials_pipe(user: str, password: str) -> Iterator[tuple[str, int]]:
    """Yield (`--defaults-extra-file=/dev/fd/N`, N): a pipe holding a [client] section, for pass_fds.

    The whole text is written before the child starts (it is far below the pipe's capacity) and the write
    end is closed, so the client reads it to its end like a file.
    """
    text = client_option_text(user, password)
    read_fd, write_fd = os.pipe()
    try:
        if len(text) > 60000:
            raise ValueError("credentials too long for the option pipe")
        os.write(write_fd, text)
        os.close(write_fd)
        write_fd = -1
        yield f"--defaults-extra-file=/dev/fd/{read_fd}", read_fd
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)


class StderrCollector:
    """Drains a child's stderr in a thread and keeps its last lines."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if line:
                    self.lines.append(line)

    def tail(self) -> str:
        self._thread.join(timeout=5)
        return "\n".join(self.lines)


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    stderr: StderrCollector

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin

    def wait(self) -> int:
        """Wait for the child; then stop what it left running in its process group.

        Interrupted meanwhile (SIGTERM), the child stays tracked, for stop_all_children to stop its group."""
        returncode = self.process.wait()
        stop_group(self.process.pid)
        forget_child(self.process)
        return returncode

    def stop(self) -> None:
        stop_process(self.process)
        forget_child(self.process)


def spawn(
    argv: Sequence[str],
    *,
    stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    pass_fds: Sequence[int] = (),
    extra_env: dict[str, str] | None = None,
) -> Child:
    """Start argv with a scrubbed environment (plus `extra_env`), stderr captured; the child is tracked for signal
    handling.

    A SIGTERM/SIGINT that arrives while the child is being started is raised once it is tracked (see
    interrupts_held): raised inside Popen, it would leave a running child that nobody stops."""
    with interrupts_held():
        return start_child(argv, stdin=stdin, stdout=stdout, pass_fds=pass_fds, extra_env=extra_env)


def start_child(
    argv: Sequence[str],
    *,
    stdin: int | IO[bytes] | None,
    stdout: int | IO[bytes] | None,
    pass_fds: Sequence[int],
    extra_env: dict[str, str] | None = None,
) -> Child:
    try:
        process = subprocess.Popen(
            tuple(argv),
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env={**scrubbed_environment(), **(extra_env or {})},
            pass_fds=tuple(pass_fds),
            close_fds=True,
            start_new_session=True,  # a Ctrl-C reaches us, and we stop the child ourselves
        )
    except OSError as error:
        raise CommandFailed(f"cannot start {argv[0]}: {error.strerror}") from None
    cpu.lower_child_group(process.pid)  # its own session is its own CPU group where the kernel has them
    with _children_lock:
        _children.add(process)
    assert process.stderr is not None
    return Child(process, StderrCollector(process.stderr))


def run(argv: Sequence[str], *, pass_fds: Sequence[int] = (), what: str | None = None) -> str:
    """Run argv to its end and return its stdout; raise CommandFailed with the tail of stderr on failure."""
    child = spawn(argv, pass_fds=pass_fds)
    output = child.stdout.read()
    returncode = child.wait()
    if returncode != 0:
        raise command_failed(what or os.path.basename(argv[0]), returncode, child.stderr.tail())
    return output.decode("utf-8", "replace")


def command_failed(what: str, returncode: int, stderr_tail: str) -> CommandFailed:
    """The error for a child that failed: how it ended and the last line it printed on stderr."""
    return CommandFailed(
        f"{what} exited with {describe_returncode(returncode)}: {last_line(stderr_tail)}",
        returncode=returncode,
        stderr_tail=stderr_tail,
    )


def describe_returncode(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"status {returncode}"


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no error output)"


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT for a few steps that must not be split (they are delivered right after).

    In the main thread the handlers are swapped for one that only notes the signal: blocking the signal would hold
    it for this thread only, and the kernel hands a process's signal to any thread that does not block it (a
    thread draining a child's stderr, say), whose arrival Python then handles in the main thread at once. Elsewhere
    (no handler can be set there) the signals are blocked for the thread."""
    held = (signal.SIGTERM, signal.SIGINT)
    if threading.current_thread() is not threading.main_thread():
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(held))
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: arrived.append(signum)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            deliver(arrived[0], previous[signal.Signals(arrived[0])])


def deliver(signum: int, handler: Any) -> None:
    """Hand a signal held back to the handler that was in place (the default one by sending it again)."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)


received: int | None = None  # the SIGTERM/SIGINT the run got, once it got one (note_signal)


def note_signal(signum: int) -> None:
    global received
    received = received or signum


def interrupted_instead(error: BaseException) -> Interrupted | None:
    """The Interrupted an error stands for when it came after a SIGTERM/SIGINT, else None.

    The signal's Interrupted is raised wherever the main thread is; in the middle of a library's cleanup it can be
    lost and surface as another error (a write to the compressor it just closed). Once a signal was received,
    any failure is the interruption's."""
    if received is None or isinstance(error, Interrupted):
        return None
    return Interrupted(received)


_held = 0  # interrupts_held() blocks entered and not left
_pending: int | None = None  # the signal that arrived meanwhile


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold back the Interrupted of a SIGTERM/SIGINT (the CLI's handler asks `defer_interrupt`) until the block is
    left, then raise it. Unlike blocking the signal, this leaves the signal mask alone, which children inherit."""
    global _held, _pending
    _held += 1
    try:
        yield
    finally:
        _held -= 1
    if _held == 0 and _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum)


def defer_interrupt(signum: int) -> bool:
    """True when an interrupts_held() block is running: the signal is raised when it is left."""
    global _pending
    if _held:
        _pending = signum
        return True
    return False


def forget_child(process: subprocess.Popen[bytes]) -> None:
    with _children_lock:
        _children.discard(process)


def stop_process(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM the child's whole process group (it leads one), SIGKILL to the group what is left after `grace`."""
    deadline = time.monotonic() + grace
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
    stop_group(process.pid, deadline)


def stop_group(group: int, deadline: float | None = None) -> None:
    """Stop the members of a process group whose leader has been reaped: SIGTERM, SIGKILL once `deadline` (default:
    STOP_GRACE_S from now) has passed. Nothing to do, and no signal sent, when the group has no live member."""
    if not group_alive(group):
        return
    if deadline is None:
        deadline = time.monotonic() + STOP_GRACE_S
    signal_group(group, signal.SIGTERM)
    while group_alive(group):
        if time.monotonic() >= deadline:
            signal_group(group, signal.SIGKILL)
            return
        time.sleep(GROUP_POLL_S)


def signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def group_alive(group: int) -> bool:
    """Whether the process group has a member that is not a zombie (one that exited, whose new parent has not
    reaped it yet, needs no stopping)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    return any(entry.isdigit() and process_group_state(entry) == (group, True) for entry in entries)


def process_group_state(pid: str) -> tuple[int, bool] | None:
    """(process group, alive: not a zombie) of a process from /proc/PID/stat, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
    return int(fields[2]), fields[0] not in ("Z", "X")


def stop_all_children() -> None:
    """Stop every tracked child and its process group (used by the signal handler)."""
    with _children_lock:
        children = list(_children)
    for process in children:
        stop_process(process)
        forget_child(process)
