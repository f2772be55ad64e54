"""The subprocess seam: credentials on an inherited pipe, a scrubbed environment, stderr in errors."""

from __future__ import annotations

import sys

import pytest

from afirgen_backup import process
from afirgen_backup.errors import CommandFailed

NASTY = "p a\"s's$w`\\o#rd!"


def test_option_file_values_escape_backslash_and_double_quote():
    assert process.option_file_value(NASTY) == '"p a\\"s\'s$w`\\\\o#rd!"'


def test_the_child_reads_the_credentials_from_the_inherited_pipe():
    with process.credentials_pipe("backup", NASTY) as (arg, fd):
        assert arg == f"--defaults-extra-file=/dev/fd/{fd}"
        path = arg.split("=", 1)[1]
        out = process.run([sys.executable, "-c", f"print(open({path!r}).read(), end='')"], pass_fds=(fd,))
    assert out == process.client_option_text("backup", NASTY).decode()
    assert f"password={process.option_file_value(NASTY)}" in out


def test_children_get_a_scrubbed_environment(monkeypatch):
    monkeypatch.setenv("MYSQL_PASSWORD", "leak-me")
    monkeypatch.setenv("MYSQL_PWD", "leak-me")
    monkeypatch.setenv("SOMETHING_ELSE", "x")
    out = process.run([sys.executable, "-c", "import os; print(sorted(os.environ))"])
    assert "leak-me" not in out and "MYSQL" not in out and "SOMETHING_ELSE" not in out
    assert "PATH" in out


def test_a_failing_child_raises_with_the_tail_of_its_stderr():
    script = "import sys; [print(f'line {i}', file=sys.stderr) for i in range(50)]; sys.exit(3)"
    with pytest.raises(CommandFailed) as caught:
        process.run([sys.executable, "-c", script], what="tool")
    assert str(caught.value) == "tool exited with status 3: line 49"
    assert caught.value.returncode == 3
    assert caught.value.stderr_tail.splitlines() == [f"line {i}" for i in range(30, 50)]


def test_a_missing_program_raises_a_clear_error():
    with pytest.raises(CommandFailed, match="cannot start /nonexistent/program"):
        process.run(["/nonexistent/program"])


def test_a_child_killed_by_a_signal_is_described_by_its_signal_name():
    with pytest.raises(CommandFailed, match="exited with signal SIGKILL"):
        process.run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])


def test_stop_all_children_ends_every_tracked_child():
    child = process.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    process.stop_all_children()
    assert child.process.poll() is not None


def test_children_do_not_inherit_home_so_no_personal_option_file_overrides_the_credentials(monkeypatch, tmp_path):
    (tmp_path / ".my.cnf").write_text("[client]\npassword=wrong\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert "HOME" not in process.scrubbed_environment()


def test_a_sigterm_while_a_child_starts_is_raised_once_the_child_is_tracked_and_stops_it(monkeypatch):
    """The SIGTERM lands inside Popen (here: just after the fork); raised there, it would leave the child running
    with nobody holding it. It is raised when spawn returns, and stop_all_children then stops the child."""
    import os
    import signal
    import subprocess

    from afirgen_backup.cli import raise_interrupted
    from afirgen_backup.errors import Interrupted

    real_popen = subprocess.Popen
    started: list[int] = []

    def popen_then_sigterm(*args, **kwargs):
        child = real_popen(*args, **kwargs)
        started.append(child.pid)
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to the handler before Popen returns
        return child

    monkeypatch.setattr(subprocess, "Popen", popen_then_sigterm)
    previous = signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        with pytest.raises(Interrupted):
            process.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
        process.stop_all_children()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    [pid] = started
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
