"""Off-site copies against a real S3 API (moto's server on 127.0.0.1), encrypted with age or not: what a run uploads
and checks, round trips back through `restore --remote` compared with the source, catch-up after the store was
down or a run was killed mid-upload, remote retention and Object Lock, and what goes wrong when a setting is."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from age_keys import AgeKeypair
from dbcompare import all_differences, table_checksums
from helpers import (
    as_root,
    describe,
    finish,
    newest_backup,
    plant_backup,
    read_manifest,
    run_cli,
    start_cli,
    wait_for,
)
from s3_server import S3Server

from afirgen_backup import catalog, files
from afirgen_backup.actions.status import collect_status
from afirgen_backup.config import load_settings
from afirgen_backup.offsite import copies
from afirgen_backup.offsite.copies import BackupChanged, upload_backup
from afirgen_backup.offsite.store import Store

PREFIX = "fir-backups"


def objects(server: S3Server, bucket: str) -> dict[str, bytes]:
    """Every object in the bucket by key, with its bytes."""
    client = server.client()
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def unfinished_uploads(server: S3Server, bucket: str) -> list[str]:
    return [upload["Key"] for upload in server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def encrypted_env(env: dict[str, str], keys: AgeKeypair) -> dict[str, str]:
    return dict(env, BACKUP_AGE_RECIPIENTS=keys.recipient, BACKUP_AGE_IDENTITY_FILE=str(keys.identity_file))


def sessions_only(env: dict[str, str]) -> dict[str, str]:
    return dict(env, BACKUP_MYSQL_ENABLED="false")


def age_decrypt(keys: AgeKeypair, data: bytes) -> bytes:
    """Debian's age CLI, the manual fallback the docs give."""
    return subprocess.run(
        ["age", "-d", "-i", str(keys.identity_file)], input=data, capture_output=True, check=True, timeout=60
    ).stdout


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("encrypted", [False, True], ids=["in-the-clear", "age"])
def test_a_mysql_backup_goes_off_site_checked_and_comes_back_identical(
    offsite_env: dict[str, str],
    s3_server: S3Server,
    s3_bucket: str,
    age_keypair: AgeKeypair,
    mariadb: Any,
    fir_db: str,
    make_database: Any,
    encrypted: bool,
) -> None:
    env = encrypted_env(offsite_env, age_keypair) if encrypted else offsite_env
    backed_up = run_cli(env, "backup")
    assert backed_up.returncode == 0, describe(backed_up)

    dump = newest_backup(env)
    record = read_manifest(dump)["offsite"]
    stored = objects(s3_server, s3_bucket)
    suffix = ".age" if encrypted else ""
    key, manifest_key = f"{PREFIX}/{dump.name}{suffix}", f"{PREFIX}/{dump.name}.json{suffix}"
    assert {key, manifest_key} <= set(stored)
    assert (record["key"], record["encrypted"], record["object_size"]) == (key, encrypted, len(stored[key]))
    assert record["object_sha256"] == sha256(stored[key])
    if encrypted:
        for data in stored.values():  # nothing leaves the host in the clear, manifests included
            assert data.startswith(b"age-encryption.org/v1\n")
            assert fir_db.encode() not in data and b"fir_records" not in data
        plain = age_decrypt(age_keypair, stored[key])  # the stock age CLI reads what the tool wrote
        remote_manifest = json.loads(age_decrypt(age_keypair, stored[manifest_key]))
    else:
        plain, remote_manifest = stored[key], json.loads(stored[manifest_key])
    assert sha256(plain) == read_manifest(dump)["sha256"] == remote_manifest["sha256"]
    assert remote_manifest["offsite"]["object_sha256"] == record["object_sha256"]

    listed = run_cli(env, "list", "--remote", "--json")
    assert [copy["name"] for copy in json.loads(listed.stdout)["backups"]["mysql"]] == [dump.name], describe(listed)
    verified = run_cli(env, "verify", "--remote")
    assert verified.returncode == 0 and "2 backup(s) verified ok" in verified.stdout, describe(verified)
    assert read_manifest(dump)["offsite"]["verification"]["ok"] is True  # kept where list and status read it

    dump.unlink()  # the local disk is gone: the copy alone restores it
    target = make_database("from_bucket")
    restored = run_cli(as_root(env), "restore", "mysql", "--remote", "latest", "--target-db", target, "--yes")
    assert restored.returncode == 0, describe(restored)
    with mariadb.connect() as conn:
        assert table_checksums(conn, target) == table_checksums(conn, fir_db)
        differences = [d for d in all_differences(conn, fir_db, target) if "event" not in d.lower()]
    assert differences == []
    assert not [name for name in os.listdir(env["BACKUP_DIR"]) if name.startswith(".remote-")]


def test_a_sessions_backup_restores_from_its_encrypted_copy(
    offsite_env: dict[str, str], age_keypair: AgeKeypair, sessions_db: Path, tmp_path: Path
) -> None:
    env = sessions_only(encrypted_env(offsite_env, age_keypair))
    assert run_cli(env, "backup").returncode == 0
    target = tmp_path / "restored" / "sessions.db"
    target.parent.mkdir()

    restored = run_cli(env, "restore", "sessions", "--remote", "latest", "--target", str(target))

    assert restored.returncode == 0, describe(restored)
    with sqlite3.connect(sessions_db) as source, sqlite3.connect(target) as copy:
        for table in ("sessions", "validation_history"):
            query = f"SELECT * FROM {table} ORDER BY 1"  # noqa: S608 - the fixture's own table names
            assert copy.execute(query).fetchall() == source.execute(query).fetchall()


def test_a_copy_changed_in_the_bucket_fails_verify_and_is_never_restored(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, sessions_db: Path, tmp_path: Path
) -> None:
    env = sessions_only(offsite_env)
    assert run_cli(env, "backup").returncode == 0
    name = newest_backup(env, "sessions").name
    client = s3_server.client()
    key = f"{PREFIX}/{name}"
    data = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    client.put_object(Bucket=s3_bucket, Key=key, Body=data[:-1] + bytes([data[-1] ^ 1]))
    target = tmp_path / "untouched.db"
    with sqlite3.connect(target) as connection:
        connection.execute("CREATE TABLE kept (note TEXT)")
    before = target.read_bytes()

    verified = run_cli(env, "verify", "--remote", name)
    restored = run_cli(env, "restore", "sessions", "--remote", name, "--target", str(target), "--yes")

    assert verified.returncode == 1 and "object: " in verified.stdout, describe(verified)
    assert "not the object that was uploaded" in verified.stdout
    assert restored.returncode == 1 and "not the object that was uploaded" in restored.stderr, describe(restored)
    assert target.read_bytes() == before


def test_a_run_while_the_store_is_down_fails_and_the_next_one_catches_up(
    offsite_env: dict[str, str], private_s3_server: S3Server, sessions_db: Path
) -> None:
    server = private_s3_server
    bucket = server.create_bucket()
    env = sessions_only(
        dict(offsite_env, BACKUP_S3_URL=f"s3://{bucket}/{PREFIX}", BACKUP_S3_ENDPOINT_URL=server.endpoint_url)
    )
    server.kill()

    down = run_cli(env, "backup")
    first = newest_backup(env, "sessions")
    copied_when_down = "offsite" in read_manifest(first)
    recorded_when_down = json.loads((Path(env["BACKUP_DIR"]) / "last_run.json").read_text())
    unhealthy = run_cli(env, "status")
    server.start()  # empty again: moto keeps nothing
    server.create_bucket(bucket)
    time.sleep(1.1)  # the next backup gets a name of its own second
    up = run_cli(env, "backup")
    healthy = run_cli(env, "status")

    assert down.returncode == 1 and "off-site copy failed" in down.stderr, describe(down)
    assert "Traceback" not in down.stderr and not copied_when_down
    assert recorded_when_down["outcome"] == "failed" and recorded_when_down["offsite"]["ok"] is False
    assert unhealthy.returncode == 1 and "no off-site copy of a sessions backup" in unhealthy.stdout
    assert up.returncode == 0, describe(up)
    second = newest_backup(env, "sessions")
    assert {f"{PREFIX}/{first.name}", f"{PREFIX}/{second.name}"} <= set(objects(server, bucket))
    assert read_manifest(first)["offsite"]["key"] == f"{PREFIX}/{first.name}"
    assert healthy.returncode == 0, describe(healthy)


def flip_last_byte(path: Path) -> None:
    """Damage a file in place as a bad disk would: same size, one bit changed."""
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))


@pytest.mark.parametrize("encrypted", [False, True], ids=["in-the-clear", "age"])
def test_a_damaged_old_backup_is_skipped_named_and_the_later_ones_still_go(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, age_keypair: AgeKeypair, encrypted: bool
) -> None:
    env = sessions_only(encrypted_env(offsite_env, age_keypair) if encrypted else offsite_env)
    env = dict(env, BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="1")
    backup_dir = Path(env["BACKUP_DIR"])
    damaged = plant_backup(backup_dir, "sessions", timedelta(days=3))
    later = plant_backup(backup_dir, "sessions", timedelta(days=2))
    flip_last_byte(damaged)  # after its manifest was written: same size, another sha256

    result = run_cli(env, "backup")

    assert result.returncode == 1, describe(result)
    assert f"{damaged.name} does not match its manifest" in result.stderr
    assert f"run `verify {damaged.name}`" in result.stderr
    newest = newest_backup(env, "sessions").name
    suffix = ".age" if encrypted else ""
    stored = set(objects(s3_server, s3_bucket))
    assert not [key for key in stored if damaged.name in key], "nothing of the damaged file was uploaded"
    # the later backups still went, and with a failure of the kind in this run nothing was pruned remotely
    assert {f"{PREFIX}/{name}{suffix}" for name in (later.name, newest)} <= stored
    assert {f"{PREFIX}/{name}.json{suffix}" for name in (later.name, newest)} <= stored


@pytest.mark.parametrize("encrypted", [False, True], ids=["in-the-clear", "age"])
def test_a_backup_that_changes_while_it_is_sent_leaves_no_object_behind(
    offsite_env: dict[str, str],
    s3_server: S3Server,
    s3_bucket: str,
    age_keypair: AgeKeypair,
    monkeypatch: pytest.MonkeyPatch,
    encrypted: bool,
) -> None:
    env = sessions_only(encrypted_env(offsite_env, age_keypair) if encrypted else offsite_env)
    backup = plant_backup(Path(env["BACKUP_DIR"]), "sessions", timedelta(days=1))
    settings = load_settings(env)
    assert settings.offsite is not None
    entry = catalog.scan(settings.backup_dir).find(backup.name)
    assert entry is not None and entry.good

    def hashed_then_changed(handle: Any) -> tuple[str, int]:
        digest = files.sha256_of_stream(handle)  # the check before the upload passes ...
        flip_last_byte(backup)  # ... and the file changes before the upload reads it
        return digest

    monkeypatch.setattr(copies, "sha256_of_stream", hashed_then_changed)
    with pytest.raises(BackupChanged, match=f"{backup.name} changed while it was sent"):
        upload_backup(Store(settings.offsite), entry)

    assert objects(s3_server, s3_bucket) == {}, "the object uploaded was deleted again"
    assert "offsite" not in read_manifest(backup)


def big_sessions_db(path: Path) -> Path:
    """48 MB of random blobs: the gzip stays about as large, an upload of several parts."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, state BLOB)")
        connection.executemany("INSERT INTO sessions (state) VALUES (?)", [(os.urandom(1 << 20),) for _ in range(48)])
    return path


def test_sigterm_mid_upload_aborts_the_upload_and_exits_143(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, age_keypair: AgeKeypair, tmp_path: Path
) -> None:
    big = big_sessions_db(tmp_path / "big-sessions.db")
    env = sessions_only(encrypted_env(dict(offsite_env, SESSIONS_DB_PATH=str(big)), age_keypair))

    cli = start_cli(env, "backup")
    wait_for(lambda: unfinished_uploads(s3_server, s3_bucket), 60, "a multipart upload to start")
    cli.send_signal(signal.SIGTERM)
    ended = finish(cli)

    assert ended.returncode == 143, describe(ended)
    assert unfinished_uploads(s3_server, s3_bucket) == []
    assert not [key for key in objects(s3_server, s3_bucket) if key.endswith(".db.gz.age")]


def test_a_run_killed_mid_upload_leaves_nothing_unfinished_after_the_next_run(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, age_keypair: AgeKeypair, tmp_path: Path
) -> None:
    big = big_sessions_db(tmp_path / "big-sessions.db")
    env = sessions_only(encrypted_env(dict(offsite_env, SESSIONS_DB_PATH=str(big)), age_keypair))

    cli = start_cli(env, "backup")
    wait_for(lambda: unfinished_uploads(s3_server, s3_bucket), 60, "a multipart upload to start")
    cli.send_signal(signal.SIGKILL)  # the upload's threads die with the process: nothing can clean up
    finish(cli)
    killed_name = newest_backup(env, "sessions").name
    assert unfinished_uploads(s3_server, s3_bucket), "the killed run left its upload unfinished"
    time.sleep(1.1)

    again = run_cli(env, "backup")

    assert again.returncode == 0, describe(again)
    assert unfinished_uploads(s3_server, s3_bucket) == []
    stored = objects(s3_server, s3_bucket)
    assert f"{PREFIX}/{killed_name}.age" in stored  # caught up
    assert len([key for key in stored if key.endswith(".db.gz.age")]) == 2
    assert run_cli(env, "verify", "--remote", "--all").returncode == 0


def test_remote_retention_keeps_the_newest_and_never_deletes_under_object_lock(
    offsite_env: dict[str, str], s3_server: S3Server, s3_locked_bucket: str, sessions_db: Path
) -> None:
    plain = sessions_only(dict(offsite_env, BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="1"))
    locked = dict(plain, BACKUP_S3_URL=f"s3://{s3_locked_bucket}/{PREFIX}", BACKUP_S3_OBJECT_LOCK_DAYS="1")
    bucket = plain["BACKUP_S3_URL"].removeprefix("s3://").split("/")[0]
    results = []
    for run in range(3):
        if run:
            time.sleep(1.1)
        results.append(run_cli(locked, "backup"))
    locked_keys = [key for key in objects(s3_server, s3_locked_bucket) if key.endswith(".db.gz")]
    retained = s3_server.client().head_object(Bucket=s3_locked_bucket, Key=locked_keys[0])
    lock_left = retained["ObjectLockRetainUntilDate"] - datetime.now(UTC)
    for _ in range(2):
        time.sleep(1.1)
        results.append(run_cli(plain, "backup"))
    plain_keys = sorted(objects(s3_server, bucket))

    assert [r.returncode for r in results] == [0] * 5, [describe(r) for r in results if r.returncode]
    assert len(locked_keys) == 3, "copies under Object Lock stay, and that is no error"
    assert retained["ObjectLockMode"] == "COMPLIANCE" and timedelta(hours=23) < lock_left <= timedelta(days=1)
    newest = newest_backup(plain, "sessions").name
    assert plain_keys == [f"{PREFIX}/{newest}", f"{PREFIX}/{newest}.json"], "only the newest copy and its manifest"


def test_after_encryption_is_turned_on_remote_retention_keeps_keep_last_distinct_backups(
    offsite_env: dict[str, str], s3_server: S3Server, s3_bucket: str, age_keypair: AgeKeypair, sessions_db: Path
) -> None:
    plain = sessions_only(dict(offsite_env, BACKUP_RETENTION_DAYS="0", BACKUP_KEEP_LAST="3"))
    results = []
    for run in range(2):
        if run:
            time.sleep(1.1)
        results.append(run_cli(plain, "backup"))
    time.sleep(1.1)
    results.append(run_cli(encrypted_env(plain, age_keypair), "backup"))  # copies the first two again, encrypted

    assert [r.returncode for r in results] == [0] * 3, [describe(r) for r in results if r.returncode]
    first, second, third = sorted(p.name for p in Path(plain["BACKUP_DIR"]).glob("sessions_backup_*.db.gz"))
    data_keys = sorted(key for key in objects(s3_server, s3_bucket) if not key.endswith((".json", ".json.age")))
    # the second backup there twice is one of the last three, not two: the first one keeps its encrypted copy, and
    # only its copy in the clear (the older duplicate) goes
    assert data_keys == sorted(
        [f"{PREFIX}/{first}.age", f"{PREFIX}/{second}", f"{PREFIX}/{second}.age", f"{PREFIX}/{third}.age"]
    )


def test_a_missing_bucket_is_a_setting_to_fix(offsite_env: dict[str, str], sessions_db: Path) -> None:
    env = sessions_only(dict(offsite_env, BACKUP_S3_URL=f"s3://no-such-bucket-{os.getpid()}/x"))

    checked = run_cli(env, "check-config")
    backed_up = run_cli(env, "backup")

    assert checked.returncode == 2 and "BACKUP_S3_URL" in checked.stderr, describe(checked)
    assert backed_up.returncode == 2 and "BACKUP_S3_URL" in backed_up.stderr, describe(backed_up)
    assert newest_backup(env, "sessions").is_file(), "the local backup is published all the same"


def test_a_store_that_does_not_answer_fails_the_run_in_one_line_within_bounds(
    offsite_env: dict[str, str], sessions_db: Path
) -> None:
    env = sessions_only(dict(offsite_env, BACKUP_S3_ENDPOINT_URL="http://127.0.0.1:9"))  # nothing listens there
    started = time.monotonic()

    checked = run_cli(env, "check-config")
    backed_up = run_cli(env, "backup")

    assert checked.returncode == 0 and "not reachable now" in checked.stdout, describe(checked)
    assert backed_up.returncode == 1, describe(backed_up)
    assert [line for line in backed_up.stderr.splitlines() if line.startswith("error: ")] == [
        line for line in backed_up.stderr.splitlines() if line.startswith("error: off-site copy failed")
    ]
    assert "Traceback" not in backed_up.stderr
    assert time.monotonic() - started < 120


def test_check_config_does_not_hold_up_a_start_when_the_store_accepts_and_never_answers(
    offsite_env: dict[str, str], sessions_db: Path
) -> None:
    with socket.socket() as listener:  # accepts connections (the kernel's backlog) and never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        env = sessions_only(dict(offsite_env, BACKUP_S3_ENDPOINT_URL=f"http://127.0.0.1:{listener.getsockname()[1]}"))
        started = time.monotonic()
        checked = run_cli(env, "check-config")
        took = time.monotonic() - started

    assert checked.returncode == 0 and "not reachable now" in checked.stdout, describe(checked)
    assert took < 30, f"check-config took {took:.0f} s"


def test_no_credential_is_ever_written_out(offsite_env: dict[str, str], sessions_db: Path) -> None:
    secret = "SeCrEt-never-in-a-log-1f2e3d"
    env = sessions_only(dict(offsite_env, AWS_SECRET_ACCESS_KEY=secret))
    ok = run_cli(env, "backup")
    failing = run_cli(dict(env, BACKUP_S3_ENDPOINT_URL="http://127.0.0.1:9"), "backup")
    checked = run_cli(env, "check-config")

    for result in (ok, failing, checked):
        assert secret not in result.stdout + result.stderr
    backup_dir = Path(env["BACKUP_DIR"])
    for path in backup_dir.iterdir():
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path.name


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BACKUP_AGE_RECIPIENTS", "age1notakey", "is not an age public key"),
        ("BACKUP_S3_URL", "https://bucket/x", "is not an s3:// URL"),
        ("BACKUP_S3_STORAGE_CLASS", "DEEP_ARCHIVE", "not GLACIER or DEEP_ARCHIVE"),
        ("BACKUP_S3_ENDPOINT_URL", "http://user:pw@127.0.0.1:1", "holds a user name or password"),
    ],
)
def test_a_bad_off_site_setting_is_exit_2_naming_it(
    offsite_env: dict[str, str], sessions_db: Path, name: str, value: str, expected: str
) -> None:
    result = run_cli(sessions_only(dict(offsite_env, **{name: value})), "check-config")

    assert result.returncode == 2, describe(result)
    assert result.stderr.startswith("error: ") and name in result.stderr and expected in result.stderr
    assert "pw@" not in result.stderr


def test_status_is_unhealthy_once_the_newest_off_site_copy_lags(offsite_env: dict[str, str], sessions_db: Path) -> None:
    env = sessions_only(offsite_env)
    assert run_cli(env, "backup").returncode == 0
    settings = load_settings(env)

    now = collect_status(settings)
    later = collect_status(settings, now=datetime.now(UTC) + timedelta(hours=8))

    assert now["healthy"], now["problems"]
    assert now["offsite"][0]["newest"] == newest_backup(env, "sessions").name
    assert any(p.startswith("newest off-site sessions copy is 8h") for p in later["problems"]), later["problems"]
