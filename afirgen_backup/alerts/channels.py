"""Running one channel's delivery within a bounded time, whatever the channel does."""

from __future__ import annotations

import threading
from collections.abc import Callable

CHANNEL_TIMEOUT = 10.0  # seconds a channel may take; then it is abandoned and the run goes on


def bounded(deliver: Callable[[], None], timeout: float = CHANNEL_TIMEOUT) -> str | None:
    """Run `deliver` in a thread of its own; None when it finished in time, else why not (its error, or that it
    was abandoned after `timeout` seconds: a daemon thread, which the process's exit ends)."""
    failure: list[str] = []

    def run() -> None:
        try:
            deliver()
        except Exception as error:  # noqa: BLE001 - a channel's failure is reported, never raised into a backup
            failure.append(f"{type(error).__name__}: {error}")

    thread = threading.Thread(target=run, name="alert-channel", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return f"no answer within {timeout:g} s"
    return failure[0] if failure else None
