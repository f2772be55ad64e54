"""Progress of a long load: a line redrawn on stderr when it is a terminal, and a log event now and then.

Without a terminal (`docker exec -i`, cron, scripts) nothing is drawn: only the log events.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from afirgen_backup.display import MB
from afirgen_backup.logs import get_logger

DRAW_EVERY_S = 0.5
LOG_EVERY_S = 30.0


class ProgressReporter:
    """Call it with the bytes done so far; `finish()` clears the line and returns bytes, duration and rate."""

    def __init__(self, what: str, total: int | None = None, *, stream: IO[str] | None = None) -> None:
        self.what = what
        self.total = total or None
        self.stream = stream if stream is not None else sys.stderr
        self.draw = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_draw = self.started
        self.last_log = self.started
        self.done = 0

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.done / MB / elapsed if elapsed > 0 else 0.0

    def describe(self, now: float) -> str:
        share = f" of {self.total / MB:.1f} MB ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.what}: {self.done / MB:.1f} MB{share}, {self.rate(now):.1f} MB/s"

    def __call__(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.draw and now - self.last_draw >= DRAW_EVERY_S:
            self.last_draw = now
            self.stream.write("\r" + self.describe(now) + "\x1b[K")
            self.stream.flush()
        if now - self.last_log >= LOG_EVERY_S:
            self.last_log = now
            get_logger().info(
                "progress", what=self.what, bytes=done, total=self.total, rate_mb_s=round(self.rate(now), 1)
            )

    def finish(self) -> dict[str, Any]:
        now = time.monotonic()
        if self.draw:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        return {"bytes": self.done, "duration_s": round(now - self.started, 3), "rate_mb_s": round(self.rate(now), 1)}
