"""Off-site copies when the store, the credentials or the operator do what a run does not expect: a profile that
does not exist, an endpoint that answers a byte at a time, a SIGTERM while a request waits, a task role's
credentials that only boto3's own chain knows, and a copy under a legal hold. Each ends in one line and an exit
code, within bounds, with the local backups kept and the local retention done."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import describe, finish, newest_backup, plant_backup, read_manifest, run_cli, start_cli, wait_for
from s3_server import S3Server

PREFIX = "fir-backups"


def sessions_only(env: dict[str, str]) -> dict[str, str]:
    return dict(env, BACKUP_MYSQL_ENABLED="false")


def local_backups(env: dict[str, str], kind: str = "sessions") -> list[str]:
    return sorted(path.name for path in Path(env["BACKUP_DIR"]).glob(f"{kind}_*.gz"))


def without_keys(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}


@dataclass
class SlowEndpoint:
    """A TCP port that accepts, reads the request and then answers one byte every `every` seconds, forever."""

    every: float
    port: int = 0
    connections: list[float] = field(default_factory=list)  # when each one was accepted
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self, listener: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            self.connections.append(time.monotonic())
            threading.Thread(target=self.trickle, args=(connection,), daemon=True).start()

    def trickle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(self.every)
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nX-Slow: " + b"a" * 100_000
            for byte in answer:
                if self.stop.is_set():
                    return
                with contextlib.suppress(OSError):
                    connection.recv(65536)  # whatever the client still sends
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                self.stop.wait(self.every)


@pytest.fixture
def slow_endpoint(request: pytest.FixtureRequest) -> Iterator[SlowEndpoint]:
    endpoint = SlowEndpoint(every=request.param)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        endpoint.port = listener.getsockname()[1]
        server = threading.Thread(target=endpoint.serve, args=(listener,), daemon=True)
        server.start()
        try:
            yield endpoint
        finally:
            endpoint.stop.set()
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()


def test_a_profile_that_does_not_exist_is_a_setting_to_fix_and_the_local_retention_still_runs(
    offsite_env: dict[str, str], sessions_db: Path
) -> None:
    env = sessions_only(without_keys(dict(offsite_env, AWS_PROFILE="no-such-profile")))
    env.update(BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="1")

    checked = run_cli(env, "check-config")
    first = run_cli(env, "backup")
    time.sleep(1.1)  # the next backup gets a name of its own second
    second = run_cli(env, "backup")

    for result in (checked, first, second):
        assert result.returncode == 2, describe(result)
        assert "AWS_PROFILE" in result.stderr and "no-such-profile" in result.stderr, describe(result)
        assert "Traceback" not in result.stderr
    assert local_backups(env) == [newest_backup(env, "sessions").name], "the older local backup was pruned"


@pytest.mark.parametrize("slow_endpoint", [2.0], indirect=True)
def test_an_endpoint_that_answers_a_byte_at_a_time_is_given_up_at_the_step_timeout(
    offsite_env: dict[str, str], sessions_db: Path, slow_endpoint: SlowEndpoint
) -> None:
    env = sessions_only(
        dict(
            offsite_env,
            BACKUP_S3_ENDPOINT_URL=f"http://127.0.0.1:{slow_endpoint.port}",
            BACKUP_S3_TIMEOUT_MINUTES="1",
        )
    )
    started = time.monotonic()

    result = run_cli(env, "backup", timeout=400)
    took = time.monotonic() - started

    assert result.returncode == 1, describe(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "BACKUP_S3_TIMEOUT_MINUTES=1" in errors[0], describe(result)
    assert slow_endpoint.connections, "the run did reach the endpoint"
    assert took < 60 + 45, f"the run took {took:.0f} s with a one-minute off-site step"
    assert newest_backup(env, "sessions").is_file(), "the local backup is published all the same"
    recorded = json.loads((Path(env["BACKUP_DIR"]) / "last_run.json").read_text())
    assert recorded["outcome"] == "failed" and recorded["offsite"]["ok"] is False


@pytest.mark.parametrize("slow_endpoint", [30.0], indirect=True)
def test_a_sigterm_while_a_request_waits_ends_the_run_at_once_as_interrupted(
    offsite_env: dict[str, str], sessions_db: Path, slow_endpoint: SlowEndpoint
) -> None:
    env = sessions_only(dict(offsite_env, BACKUP_S3_ENDPOINT_URL=f"http://127.0.0.1:{slow_endpoint.port}"))
    cli = start_cli(env, "backup")
    wait_for(lambda: slow_endpoint.connections, 60, "the run's first request to the store")
    time.sleep(1)  # well inside the request: it waits for the answer's next byte

    signalled = time.monotonic()
    cli.send_signal(signal.SIGTERM)
    ended = finish(cli)
    took = time.monotonic() - signalled

    assert ended.returncode == 143, describe(ended)
    assert took < 15, f"the run took {took:.0f} s to stop after SIGTERM"
    assert len(slow_endpoint.connections) == 1, "no request was retried after the signal"
    recorded = json.loads((Path(env["BACKUP_DIR"]) / "last_run.json").read_text())
    assert recorded["outcome"] == "interrupted", recorded


class ContainerCredentials(BaseHTTPRequestHandler):
    """The credentials endpoint of a container's task role (ECS, EKS Pod Identity), as boto3's chain asks it."""

    token = "container-token-0a1b2c"
    asked: list[str] = []  # noqa: RUF012 - what each request's Authorization said

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).asked.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") != self.token:
            self.send_error(403)
            return
        body = json.dumps(
            {
                "AccessKeyId": "ASIATASKROLE",
                "SecretAccessKey": "task-role-secret",
                "Token": "task-role-session",
                "Expiration": "2099-01-01T00:00:00Z",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="job-env gives the job's file to the job's user (fchown)")
def test_a_task_roles_credentials_reach_the_cron_job(
    offsite_env: dict[str, str], sessions_db: Path, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    credentials = ThreadingHTTPServer(("127.0.0.1", 0), ContainerCredentials)
    threading.Thread(target=credentials.serve_forever, daemon=True).start()
    ContainerCredentials.asked.clear()
    container = sessions_only(
        dict(
            without_keys(offsite_env),
            AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{credentials.server_port}/v2/credentials",
            AWS_CONTAINER_AUTHORIZATION_TOKEN=ContainerCredentials.token,
        )
    )
    job_file = tmp_path / "run" / "backup.env"
    job_file.parent.mkdir()
    try:
        prepared = run_cli(container, "job-env", str(job_file), "--owner", "nobody")
        job = {"PATH": os.environ["PATH"], "BACKUP_ENV_FILE": str(job_file)}  # all cron gives the job
        result = run_cli(job, "backup")
    finally:
        credentials.shutdown()
        credentials.server_close()

    assert prepared.returncode == 0, describe(prepared)
    assert result.returncode == 0, describe(result)
    assert ContainerCredentials.asked and set(ContainerCredentials.asked) == {ContainerCredentials.token}
    stored = s3_server.client().list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    assert f"{PREFIX}/{newest_backup(container, 'sessions').name}" in [item["Key"] for item in stored]
    assert "task-role-secret" not in job_file.read_text()


@pytest.mark.parametrize("held_object", ["", ".json"], ids=["on-the-data", "on-the-manifest"])
def test_a_copy_under_a_legal_hold_is_kept_whole_and_no_error(
    offsite_env: dict[str, str], s3_server: S3Server, s3_locked_bucket: str, sessions_db: Path, held_object: str
) -> None:
    env = sessions_only(dict(offsite_env, BACKUP_S3_URL=f"s3://{s3_locked_bucket}/{PREFIX}"))
    env.update(BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="1")
    client = s3_server.client()
    first = run_cli(env, "backup")
    held = f"{PREFIX}/{newest_backup(env, 'sessions').name}"
    client.put_object_legal_hold(Bucket=s3_locked_bucket, Key=held + held_object, LegalHold={"Status": "ON"})
    time.sleep(1.1)

    second = run_cli(env, "backup")
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=s3_locked_bucket).get("Contents", [])]
    client.put_object_legal_hold(Bucket=s3_locked_bucket, Key=held + held_object, LegalHold={"Status": "OFF"})
    time.sleep(1.1)
    third = run_cli(env, "backup")
    after = [item["Key"] for item in client.list_objects_v2(Bucket=s3_locked_bucket).get("Contents", [])]

    assert first.returncode == 0 and second.returncode == 0, describe(second)
    assert held in keys and f"{held}.json" in keys, "the held copy stays"
    assert "could not delete" not in second.stderr
    assert third.returncode == 0, describe(third)
    assert held not in after and f"{held}.json" not in after, "once the hold is lifted, retention takes the copy"


def test_a_copy_grown_in_the_bucket_is_refused_by_its_listed_size_and_the_failure_is_kept(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, sessions_db: Path
) -> None:
    env = sessions_only(offsite_env)
    assert run_cli(env, "backup").returncode == 0
    local = newest_backup(env, "sessions")
    key = f"{PREFIX}/{local.name}"
    client = s3_server.client()
    data = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    client.put_object(Bucket=s3_bucket, Key=key, Body=data + b"\0" * (8 << 20))  # 8 MiB more than was uploaded

    verified = run_cli(env, "verify", "--remote", local.name)

    assert verified.returncode == 1, describe(verified)
    assert f"({len(data) + (8 << 20)} bytes, its manifest's record says {len(data)})" in verified.stdout
    record = read_manifest(local)["offsite"]["verification"]
    assert record["ok"] is False and "not the object that was uploaded" in record["failures"][0]


def test_list_remote_shows_a_hostile_object_name_escaped(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, sessions_db: Path
) -> None:
    env = sessions_only(offsite_env)
    s3_server.client().put_object(Bucket=s3_bucket, Key=f"{PREFIX}/\x1b]0;owned\x07\x1b[2Jnote", Body=b"x")

    listed = run_cli(env, "list", "--remote")

    assert listed.returncode == 0, describe(listed)
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert "not a backup, left alone: 'fir-backups/\\x1b]0;owned\\x07\\x1b[2Jnote'" in listed.stdout


def test_latest_is_never_a_copy_dated_in_the_future(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, sessions_db: Path, tmp_path: Path
) -> None:
    env = sessions_only(offsite_env)
    assert run_cli(env, "backup").returncode == 0
    real = newest_backup(env, "sessions").name
    planted = "sessions_backup_20991231_000000.db.gz"
    client = s3_server.client()
    for suffix in ("", ".json"):  # the real copy's bytes under a name from the future: its manifest names another
        body = client.get_object(Bucket=s3_bucket, Key=f"{PREFIX}/{real}{suffix}")["Body"].read()
        client.put_object(Bucket=s3_bucket, Key=f"{PREFIX}/{planted}{suffix}", Body=body)
    target = tmp_path / "restored.db"

    restored = run_cli(env, "restore", "sessions", "--remote", "latest", "--target", str(target))
    verified = run_cli(env, "verify", "--remote")

    assert restored.returncode == 0, describe(restored)
    output = restored.stdout + restored.stderr
    assert real in output and "remote_copies_in_the_future_skipped" in output and planted in output
    assert target.is_file()
    assert verified.returncode == 0 and f"ok      {real}" in verified.stdout, describe(verified)


@pytest.mark.parametrize("slow_endpoint", [1.0], indirect=True)
def test_check_config_gives_a_task_roles_credentials_endpoint_no_more_than_its_bound(
    offsite_env: dict[str, str], sessions_db: Path, slow_endpoint: SlowEndpoint
) -> None:
    env = sessions_only(
        dict(
            without_keys(offsite_env),
            AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{slow_endpoint.port}/v2/credentials",
        )
    )
    started = time.monotonic()

    checked = run_cli(env, "check-config", timeout=120)
    took = time.monotonic() - started

    assert checked.returncode == 0 and "not reachable now" in checked.stdout, describe(checked)
    assert slow_endpoint.connections, "the credentials were asked for"
    assert took < 45, f"check-config took {took:.0f} s"


def test_a_credential_process_that_hangs_holds_check_config_no_longer_than_its_bound(
    offsite_env: dict[str, str], sessions_db: Path, tmp_path: Path
) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[profile stuck]\ncredential_process = sleep 300\n")
    env = sessions_only(dict(without_keys(offsite_env), AWS_PROFILE="stuck", AWS_CONFIG_FILE=str(config)))
    started = time.monotonic()

    checked = run_cli(env, "check-config", timeout=120)
    took = time.monotonic() - started

    assert checked.returncode == 0 and "did not answer within 30 s" in checked.stdout, describe(checked)
    assert took < 45, f"check-config took {took:.0f} s"


def test_a_backup_the_copy_finds_damaged_no_longer_counts_toward_keep_last(
    offsite_env: dict[str, str], sessions_db: Path
) -> None:
    env = sessions_only(dict(offsite_env, BACKUP_RETENTION_DAYS="1", BACKUP_KEEP_LAST="2"))
    backup_dir = Path(env["BACKUP_DIR"])
    older = plant_backup(backup_dir, "sessions", timedelta(days=4))
    damaged = plant_backup(backup_dir, "sessions", timedelta(days=2))
    data = damaged.read_bytes()
    damaged.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # after its manifest: same size, another sha256

    result = run_cli(env, "backup")

    assert result.returncode == 1 and f"{damaged.name} does not match its manifest" in result.stderr
    assert read_manifest(damaged)["verification"]["ok"] is False
    assert older.is_file(), "with the damaged one no good backup, the older one is among the two kept"


def test_object_lock_days_on_a_bucket_without_object_lock_is_a_setting_to_fix(
    offsite_env: dict[str, str], sessions_db: Path, s3_locked_bucket: str
) -> None:
    env = sessions_only(dict(offsite_env, BACKUP_S3_OBJECT_LOCK_DAYS="7"))
    locked = dict(env, BACKUP_S3_URL=f"s3://{s3_locked_bucket}/{PREFIX}")

    checked = run_cli(env, "check-config")
    backed_up = run_cli(env, "backup")
    checked_locked = run_cli(locked, "check-config")

    assert checked_locked.returncode == 0 and "reachable with these credentials" in checked_locked.stdout

    for result in (checked, backed_up):
        assert result.returncode == 2, describe(result)
        assert "BACKUP_S3_OBJECT_LOCK_DAYS is set but the bucket has no Object Lock" in result.stderr
    assert newest_backup(env, "sessions").is_file(), "the local backup is published all the same"
