"""Notifications through apprise (BACKUP_NOTIFY_URLS): one message per URL, each within the channel's bounded time.

apprise's notify() answers with an object whose truth value is the outcome (compared with bool(), never with
`== False`). apprise's own log is silenced: its lines can hold a URL's tokens. A URL is named in our log by its
position and scheme only (named()).
"""

from __future__ import annotations

import logging

from afirgen_backup.alerts.channels import CHANNEL_TIMEOUT, bounded
from afirgen_backup.config.alerts import scheme_of

LEVELS = {"failure": "failure", "stale": "warning", "recovery": "success", "success": "success"}


def named(position: int, url: str) -> str:
    """How a URL is named in messages: its position in BACKUP_NOTIFY_URLS and its scheme, nothing of the rest. What
    is secret differs by service (a bot token in the host, an ntfy topic, a webhook's key in the path), and
    apprise's privacy form does not shorten all of them."""
    return f"URL {position} ({scheme_of(url)}://...)"


def send(urls: tuple[str, ...], event: str, title: str, body: str) -> dict[str, str]:
    """Send to every URL; the failures, by redacted URL."""
    import apprise

    logging.getLogger("apprise").disabled = True
    failures = {}
    for position, url in enumerate(urls, 1):

        def deliver(url: str = url) -> None:
            target = apprise.Apprise()
            target.add(url)
            result = target.notify(body=body, title=title, notify_type=LEVELS[event], timeout=CHANNEL_TIMEOUT)
            if not bool(result):
                raise OSError("the service did not accept the message")

        problem = bounded(deliver)
        if problem is not None:
            failures[named(position, url)] = problem
    return failures
