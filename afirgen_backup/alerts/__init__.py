"""Telling people and monitors how backups go: notifications (apprise), a dead-man switch (pings to a
healthchecks.io-style URL) and Prometheus metrics (config/alerts.py has the settings).

None of them may make a backup fail or hang: each channel runs with a bounded time (CHANNEL_TIMEOUT), in a thread
that is abandoned if it outlasts it, and a failure is logged (`notify_failed`, `ping_failed`, `metrics_failed`,
naming the channel by its redacted URL) and changes no exit code.

hooks.py is what the backup run and `status --notify` call; state.py remembers what was notified, so that a
failure is announced once, repeated at most every BACKUP_NOTIFY_REPEAT_HOURS, and its end announced; notify.py,
ping.py and metrics.py are the channels.
"""
