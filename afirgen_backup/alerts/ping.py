"""The dead-man switch: pings to a healthchecks.io-style check URL (BACKUP_PING_URL).

`GET <url>/start?rid=<run id>` when a run starts; `POST <url>?rid=...` when it succeeded, `POST <url>/fail?rid=...`
when it failed, with the last lines of its error as the body. The service behind the URL alerts when the pings
stop coming, which also covers a container or host that is gone. The URL's path is the check's secret: messages
name the URL by its scheme and host only.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import quote, urlsplit

from afirgen_backup.alerts.channels import CHANNEL_TIMEOUT

BODY_LIMIT = 10_000  # healthchecks.io keeps the first 100 kB of a body; the end of an error is what matters


def redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/..."


def ping(url: str, signal: str, run_id: str, body: str | None = None) -> None:
    """Send one ping (`start`, `success` or `fail`); raises on a failure or an answer that is not 2xx."""
    suffix = {"start": "/start", "success": "", "fail": "/fail"}[signal]
    target = f"{url}{suffix}?rid={quote(run_id)}"
    if urlsplit(target).scheme not in ("http", "https"):  # config/alerts.py allows no other; checked again here
        raise ValueError("a ping URL must be http(s)")
    if signal == "start":
        request = urllib.request.Request(target, method="GET")  # noqa: S310 - http(s) only, checked above
    else:
        data = (body or "")[-BODY_LIMIT:].encode("utf-8", "replace")
        request = urllib.request.Request(target, data=data, method="POST")  # noqa: S310 - http(s) only
    with urllib.request.urlopen(request, timeout=CHANNEL_TIMEOUT) as response:  # noqa: S310 - http(s) only
        if not 200 <= response.status < 300:
            raise OSError(f"answered {response.status}")
