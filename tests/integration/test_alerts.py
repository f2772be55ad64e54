"""Alerts of issue #13 against a local HTTP server that records what it is sent: the dead-man pings
(BACKUP_PING_URL), apprise notifications to a JSON webhook (BACKUP_NOTIFY_URLS), the Prometheus metrics file
(BACKUP_METRICS_FILE) and `status --prometheus` / `status --notify`. No channel may change a run's exit code or hold
it up for longer than its bounded time."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import assert_refused, describe, events_named, newest_backup, read_manifest, run_cli
from http_recorder import Recorder, Request, closed_port, hanging_port, recording
from prometheus_client.parser import text_string_to_metric_families

from afirgen_backup.alerts.channels import CHANNEL_TIMEOUT

PING = "/ping/0f9c1e5a-secret-check"
HOOK = "/hooks/secret-webhook-key"


@pytest.fixture
def recorder() -> Any:
    with recording() as started:
        yield started


def alert_env(env: dict[str, str], recorder: Recorder, tmp_path: Path, **more: str) -> dict[str, str]:
    metrics_dir = tmp_path / "textfile"
    metrics_dir.mkdir(exist_ok=True)
    return dict(
        env,
        BACKUP_PING_URL=recorder.url(PING),
        BACKUP_NOTIFY_URLS=recorder.url(HOOK, "json"),
        BACKUP_METRICS_FILE=str(metrics_dir / "afirgen_backup.prom"),
        **more,
    )


def last_run(env: dict[str, str]) -> dict[str, Any]:
    return json.loads((Path(env["BACKUP_DIR"]) / "last_run.json").read_text())


def pings(requests: list[Request]) -> list[tuple[str, str, list[str]]]:
    """(method, path, rid) of the pings among `requests`."""
    return [(r.method, r.path, r.query.get("rid", [])) for r in requests if r.path.startswith(PING)]


def notifications(requests: list[Request]) -> list[dict[str, Any]]:
    return [r.json() for r in requests if r.path == HOOK]


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text, by name and labels (prometheus_client's own parser)."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def timestamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def test_a_good_run_pings_start_and_success_writes_its_figures_and_notifies_nobody_by_default(
    backup_env: dict[str, str], recorder: Recorder, tmp_path: Path
) -> None:
    env = alert_env(backup_env, recorder, tmp_path)
    result = run_cli(env, "backup")
    assert result.returncode == 0, describe(result)

    run = last_run(env)
    rid = [run["run_id"]]
    requests = recorder.taken()
    assert pings(requests) == [("GET", f"{PING}/start", rid), ("POST", PING, rid)]
    assert notifications(requests) == []  # BACKUP_NOTIFY_ON defaults to failure,recovery

    metrics_file = Path(env["BACKUP_METRICS_FILE"])
    assert metrics_file.stat().st_mode & 0o777 == 0o644  # node_exporter runs as another user
    assert [p.name for p in metrics_file.parent.iterdir()] == [metrics_file.name]  # no temporary file left
    figures = metrics(metrics_file.read_text())
    assert figures[("afirgen_backup_last_run_success", ())] == 1
    assert figures[("afirgen_backup_last_run_timestamp_seconds", ())] == timestamp(run["finished_at"])
    for kind in ("mysql", "sessions"):
        backup = newest_backup(env, kind)
        manifest = read_manifest(backup)
        label = (("kind", kind),)
        assert figures[("afirgen_backup_good_backups", label)] == 1
        assert figures[("afirgen_backup_last_size_bytes", label)] == backup.stat().st_size
        assert figures[("afirgen_backup_last_success_timestamp_seconds", label)] == timestamp(manifest["finished_at"])
        assert figures[("afirgen_backup_last_duration_seconds", label)] == pytest.approx(manifest["duration_s"])
        assert ("afirgen_backup_last_verify_success_timestamp_seconds", label) not in figures  # none yet
    on_disk = sum(p.stat().st_size for p in Path(env["BACKUP_DIR"]).rglob("*") if p.is_file())
    assert 0 < figures[("afirgen_backup_dir_bytes", ())] <= on_disk
    assert figures[("afirgen_backup_dir_free_bytes", ())] > 0

    verified = run_cli(env, "verify")  # refreshes the file: its times are metrics too
    assert verified.returncode == 0, describe(verified)
    figures = metrics(metrics_file.read_text())
    for kind in ("mysql", "sessions"):
        verification = read_manifest(newest_backup(env, kind))["verification"]
        verify_time = figures[("afirgen_backup_last_verify_success_timestamp_seconds", (("kind", kind),))]
        assert verify_time == timestamp(verification["time"])

    printed = run_cli(env, "status", "--prometheus")
    assert printed.returncode == 0, describe(printed)
    again = metrics(printed.stdout)
    assert {k: v for k, v in again.items() if "dir_" not in k[0]} == {
        k: v for k, v in figures.items() if "dir_" not in k[0]
    }
    promtool = shutil.which("promtool")
    if promtool:  # an extra lint where Prometheus's own tool is installed
        checked = subprocess.run([promtool, "check", "metrics"], input=printed.stdout, text=True, capture_output=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_failure_is_told_once_with_the_servers_words_then_reminded_then_its_recovery(
    backup_env: dict[str, str], recorder: Recorder, tmp_path: Path
) -> None:
    good = alert_env(backup_env, recorder, tmp_path)
    assert run_cli(good, "backup").returncode == 0
    recorder.taken()
    failing = dict(good, MYSQL_PASSWORD="not the password")

    result = run_cli(failing, "backup")
    assert result.returncode == 1, describe(result)
    rid = [last_run(good)["run_id"]]
    requests = recorder.taken()
    assert pings(requests) == [("GET", f"{PING}/start", rid), ("POST", f"{PING}/fail", rid)]
    fail_body = next(r.body.decode() for r in requests if r.path == f"{PING}/fail")
    assert "Access denied for user" in fail_body
    [told] = notifications(requests)
    assert told["type"] == "failure"
    assert told["title"] == f"AFIRGen backup FAILED on {socket.gethostname()}"
    message = told["message"]
    for expected in (
        f"host: {socket.gethostname()}",
        f"run: {rid[0]} (failed)",
        "mysql: FAILED: ",
        "Access denied for user",
        "sessions: ok",
        f"newest good mysql backup: {newest_backup(good).name}",
        "docker logs afirgen-backup",
    ):
        assert expected in message, message
    assert "not the password" not in message + fail_body
    figures = metrics(Path(good["BACKUP_METRICS_FILE"]).read_text())
    assert figures[("afirgen_backup_last_run_success", ())] == 0
    assert figures[("afirgen_backup_good_backups", (("kind", "mysql"),))] == 1  # the last good one still counts

    assert run_cli(failing, "backup").returncode == 1  # inside the repeat window: pinged, not told again
    requests = recorder.taken()
    assert [p[1] for p in pings(requests)] == [f"{PING}/start", f"{PING}/fail"]
    assert notifications(requests) == []

    state_file = Path(good["BACKUP_DIR"]) / "alerts.json"
    state = json.loads(state_file.read_text())
    assert state["state"] == "failed"
    state["notified_at"] = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    state_file.write_text(json.dumps(state))
    assert run_cli(dict(failing, BACKUP_NOTIFY_REPEAT_HOURS="1"), "backup").returncode == 1
    [reminder] = notifications(recorder.taken())  # the failure lasted past BACKUP_NOTIFY_REPEAT_HOURS
    assert reminder["type"] == "failure" and "Access denied for user" in reminder["message"]

    assert run_cli(good, "backup").returncode == 0
    requests = recorder.taken()
    assert [p[1] for p in pings(requests)] == [f"{PING}/start", PING]
    [recovered] = notifications(requests)
    assert recovered["type"] == "success"
    assert recovered["title"] == f"AFIRGen backups recovered on {socket.gethostname()}"
    assert f"run: {last_run(good)['run_id']} (success)" in recovered["message"]
    assert run_cli(good, "backup").returncode == 0  # still fine: nothing more to tell
    assert notifications(recorder.taken()) == []


def test_a_channel_that_never_answers_is_abandoned_after_its_timeout(
    backup_env: dict[str, str], recorder: Recorder, tmp_path: Path
) -> None:
    """A ping service and a webhook that accept connections and never answer: each of the run's three calls
    (start ping, end ping, notification) is given up after CHANNEL_TIMEOUT seconds, and the run exits 0."""
    plain = dict(backup_env)
    started = time.monotonic()
    assert run_cli(plain, "backup").returncode == 0
    without_channels = time.monotonic() - started

    with hanging_port() as port:
        env = dict(
            backup_env,
            BACKUP_PING_URL=f"http://127.0.0.1:{port}{PING}",
            BACKUP_NOTIFY_URLS=f"json://127.0.0.1:{port}{HOOK}",
            BACKUP_NOTIFY_ON="success",
        )
        started = time.monotonic()
        result = run_cli(env, "backup")
        elapsed = time.monotonic() - started
    assert result.returncode == 0, describe(result)
    calls = 3
    assert elapsed < without_channels + calls * CHANNEL_TIMEOUT + 15, (elapsed, without_channels)
    assert [e["signal"] for e in events_named(env, "ping_failed")] == ["start", "success"]
    [notify_failed] = events_named(env, "notify_failed")
    assert notify_failed["channel"] == "URL 1 (json://...)"
    log = (Path(env["BACKUP_DIR"]) / "backup.log").read_text()
    assert "secret" not in log and "secret" not in result.stdout + result.stderr  # the URLs' paths are their keys


@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_channels_that_refuse_leave_the_exit_code_as_it_was(
    backup_env: dict[str, str], recorder: Recorder, tmp_path: Path, outcome: str
) -> None:
    recorder.statuses[HOOK] = 500
    env = dict(
        backup_env,
        BACKUP_PING_URL=f"http://127.0.0.1:{closed_port()}{PING}",
        BACKUP_NOTIFY_URLS=recorder.url(HOOK, "json"),
        BACKUP_NOTIFY_ON="success,failure",
    )
    if outcome == "failed":
        env["MYSQL_PASSWORD"] = "not the password"
    result = run_cli(env, "backup")
    assert result.returncode == (0 if outcome == "success" else 1), describe(result)
    assert last_run(env)["outcome"] == outcome
    assert len(events_named(env, "ping_failed")) == 2
    [refused] = events_named(env, "notify_failed")
    alert = "success" if outcome == "success" else "failure"
    assert (refused["channel"], refused["alert"]) == ("URL 1 (json://...)", alert)
    assert notifications(recorder.taken()) != []  # the webhook was asked, and answered 500


def test_status_notify_tells_of_stale_backups_once_and_of_their_recovery(
    backup_env: dict[str, str], recorder: Recorder, tmp_path: Path
) -> None:
    """The container's cron runs `status --notify` between backups: nothing ran (no backup at all here), so
    status is unhealthy without any run having failed."""
    env = alert_env(backup_env, recorder, tmp_path, BACKUP_NOTIFY_ON="failure,recovery,stale")
    Path(env["BACKUP_DIR"]).mkdir(mode=0o700)  # as the container's entrypoint makes it
    checked = run_cli(env, "status", "--notify")
    assert checked.returncode == 1, describe(checked)
    [stale] = notifications(recorder.taken())
    assert stale["type"] == "warning"
    assert stale["title"] == f"AFIRGen backups are STALE on {socket.gethostname()}"
    assert "problem: " in stale["message"] and "newest good mysql backup: none" in stale["message"]

    assert run_cli(env, "status", "--notify").returncode == 1
    assert notifications(recorder.taken()) == []  # told once per BACKUP_NOTIFY_REPEAT_HOURS

    assert run_cli(env, "backup").returncode == 0
    [recovered] = notifications(recorder.taken())
    assert recovered["title"].startswith("AFIRGen backups recovered")
    assert run_cli(env, "status", "--notify").returncode == 0
    assert notifications(recorder.taken()) == []


def test_status_notify_is_silent_after_a_failed_run_that_was_already_told(
    backup_env: dict[str, str], recorder: Recorder, tmp_path: Path
) -> None:
    env = alert_env(backup_env, recorder, tmp_path, BACKUP_NOTIFY_ON="failure,recovery,stale")
    assert run_cli(dict(env, MYSQL_PASSWORD="not the password"), "backup").returncode == 1
    assert [n["type"] for n in notifications(recorder.taken())] == ["failure"]
    assert run_cli(env, "status", "--notify").returncode == 1
    assert notifications(recorder.taken()) == []  # the failure was told; staleness adds nothing to it


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("BACKUP_NOTIFY_URLS", "json://127.0.0.1/ok nosuch://token-abc123", ["BACKUP_NOTIFY_URLS", "URL 2"]),
        ("BACKUP_NOTIFY_ON", "failure,sometimes", ["BACKUP_NOTIFY_ON", "'sometimes'", "stale"]),
        ("BACKUP_NOTIFY_REPEAT_HOURS", "0", ["BACKUP_NOTIFY_REPEAT_HOURS"]),
        ("BACKUP_PING_URL", "ftp://hc-ping.com/token-abc123", ["BACKUP_PING_URL", "http(s)"]),
        ("BACKUP_PING_URL", "https://hc-ping.com/token-abc123?x=1", ["BACKUP_PING_URL", "without query"]),
        ("BACKUP_METRICS_FILE", "metrics.prom", ["BACKUP_METRICS_FILE", "absolute path"]),
    ],
)
def test_a_bad_alert_setting_is_a_configuration_error_naming_the_variable(
    backup_env: dict[str, str], name: str, value: str, words: list[str]
) -> None:
    backup_dir = Path(backup_env["BACKUP_DIR"])
    before = sorted(p.name for p in backup_dir.iterdir()) if backup_dir.exists() else []
    for command in ("check-config", "backup"):
        result = run_cli(dict(backup_env, **{name: value}), command)
        assert_refused(result, *words)
        assert "token-abc123" not in result.stdout + result.stderr  # never echoes what may be a secret
    after = sorted(p.name for p in backup_dir.iterdir()) if backup_dir.exists() else []
    assert after == before
