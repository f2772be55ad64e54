"""Run a command and measure its wall time and the memory of its whole process tree.

What is measured (documented in benchmarks/README.md):
- wall: time.perf_counter() from just before the fork to the reaping of the process, interpreter start included.
- peak_tree_rss: a sampler thread walks the process tree (the process and all its descendants, via
  /proc/PID/task/TID/children) every 10 ms; for every process it keeps the largest VmHWM (the kernel's own peak-RSS
  high-water mark of that process) it saw. peak_tree_rss is the SUM of those per-process peaks: an upper bound of
  the memory the tree ever held at one moment (their peaks need not coincide). A child's pre-exec phase (a forked
  copy of the parent, sharing its pages) is not counted: when a process's name changes, its peak starts anew.
  For the tool this is python + mysqldump (+ anything else it starts). For the root process itself the larger
  of its sampled VmHWM and ru_maxrss is used (ru_maxrss is never below its true peak, so a growth after the
  last sample is not missed).
- peak_concurrent_rss: the largest sum of VmRSS of the tree seen in one sample (a lower bound).
- ru_maxrss: from os.wait4 on the process: the kernel's max RSS of the process itself and of any single one of its
  reaped descendants (a max, not a sum), kept as a cross-check of the sampler.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Result:
    argv: list[str]
    rc: int
    wall: float
    peak_tree_rss_kb: int = 0
    peak_concurrent_rss_kb: int = 0
    ru_maxrss_kb: int = 0
    per_process_kb: dict[str, int] = field(default_factory=dict)
    stderr_tail: str = ""


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _status(pid: int) -> tuple[str, int, int] | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    name, hwm, rss = "?", 0, 0
    for line in text.splitlines():
        if line.startswith("Name:"):
            name = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else "?"
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return name, hwm, rss


class TreeSampler(threading.Thread):
    def __init__(self, root: int, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.stop_event = threading.Event()
        self.hwm: dict[int, tuple[str, int]] = {}
        self.peak_concurrent = 0

    def sample(self) -> None:
        todo, seen = [self.root], set()
        total = 0
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            st = _status(pid)
            if st is None:
                continue
            name, hwm, rss = st
            total += rss
            prev = self.hwm.get(pid)
            # A new name means the child has exec'd: its pre-exec peak was the parent's copy-on-write pages
            # (counted as RSS, but not extra memory), and exec starts a new VmHWM. Keep the program's own peak.
            if prev is None or prev[0] != name or hwm > prev[1]:
                self.hwm[pid] = (name, hwm)
            todo.extend(_children(pid))
        self.peak_concurrent = max(self.peak_concurrent, total)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)


def run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    stdout: int | None = subprocess.DEVNULL,
    sample: bool = True,
    new_session: bool = False,
    preexec: Callable[[], None] | None = None,
) -> Result:
    """Run argv to its end; new_session starts it as cron starts a job (a session of its own, no terminal)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        start_new_session=new_session,
        preexec_fn=preexec,
    )
    sampler = TreeSampler(proc.pid) if sample else None
    if sampler:
        sampler.start()
    # drain stderr in a thread so a chatty child never blocks on a full pipe
    chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    drain.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    drain.join()
    res = Result(argv=argv, rc=proc.returncode, wall=wall, ru_maxrss_kb=usage.ru_maxrss)
    if sampler:
        sampler.stop_event.set()
        sampler.join()
        # The root's own peak may grow after its last sample; ru_maxrss (a max over the root and each of its
        # reaped descendants) is never below the root's true peak, so the larger of the two is used for the root.
        name, hwm = sampler.hwm.get(proc.pid, ("?", 0))
        sampler.hwm[proc.pid] = (name, max(hwm, usage.ru_maxrss))
        # A child only ever seen under the root's own name was sampled between fork and exec and exec'd (or
        # exited) before the next sample: its pages were the root's, shared copy-on-write, so it is not counted.
        for pid, (child_name, _) in list(sampler.hwm.items()):
            if pid != proc.pid and child_name == name:
                del sampler.hwm[pid]
        res.peak_tree_rss_kb = sum(h for _, h in sampler.hwm.values())
        res.peak_concurrent_rss_kb = sampler.peak_concurrent
        for pid, (name, hwm) in sampler.hwm.items():
            res.per_process_kb[f"{name}[{pid}]"] = hwm
    res.stderr_tail = b"".join(chunks).decode(errors="replace")[-3000:]
    return res


def shell(script: str, **kw: object) -> Result:
    return run(["bash", "-c", "set -o pipefail; " + script], **kw)  # type: ignore[arg-type]


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]
