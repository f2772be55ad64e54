"""The off-site settings (config/offsite.py): what each accepts, and one line naming the variable for what it does
not; and what a store that refuses the credentials makes of a run (a setting to fix, exit 2)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from afirgen_backup.config import load_settings
from afirgen_backup.config.offsite import OffsiteSettings
from afirgen_backup.errors import ConfigError
from afirgen_backup.offsite.store import Store

RECIPIENT = "age1fep5vy6p49c4xsquyxlknm0rk9a4vmzwmp5yfjqcdpty4tamfe9qm8q437"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty.env").write_text("")
    return {
        "BACKUP_ENV_FILE": str(tmp_path / "empty.env"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_MYSQL_ENABLED": "false",
        "SESSIONS_DB_PATH": str(tmp_path / "sessions.db"),
        "BACKUP_S3_URL": "s3://fir-backups/afirgen/prod/",
    }


def offsite(env: dict[str, str]) -> OffsiteSettings:
    settings = load_settings(env, check_dirs=False).offsite
    assert settings is not None
    return settings


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, check_dirs=False)
    return str(caught.value)


def test_off_site_is_off_without_a_url(env: dict[str, str]) -> None:
    del env["BACKUP_S3_URL"]
    assert load_settings(env, check_dirs=False).offsite is None


def test_the_url_gives_the_bucket_and_a_clean_prefix_and_the_defaults_apply(env: dict[str, str]) -> None:
    settings = offsite(env)
    assert (settings.bucket, settings.prefix, settings.region) == ("fir-backups", "afirgen/prod", "us-east-1")
    assert settings.key("x.sql.gz") == "afirgen/prod/x.sql.gz"
    assert (settings.endpoint_url, settings.storage_class, settings.object_lock_days) == (None, None, 0)
    assert not settings.encrypted and not settings.force_path_style


def test_every_setting_is_read(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "recipients.txt").write_text(f"# the restore team's key\n\n{RECIPIENT}\n")
    (tmp_path / "secret").write_text("from-a-docker-secret\n")
    env.update(
        BACKUP_S3_ENDPOINT_URL="https://minio.internal:9000/",
        BACKUP_S3_REGION="ap-south-1",
        BACKUP_S3_FORCE_PATH_STYLE="yes",
        BACKUP_S3_STORAGE_CLASS="standard_ia",
        BACKUP_S3_OBJECT_LOCK_DAYS="30",
        BACKUP_AGE_RECIPIENTS=f"{RECIPIENT}, {RECIPIENT}",
        BACKUP_AGE_RECIPIENTS_FILE=str(tmp_path / "recipients.txt"),
        BACKUP_AGE_IDENTITY_FILE="/keys/identity.txt",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY_FILE=str(tmp_path / "secret"),
    )
    settings = offsite(env)
    assert settings.endpoint_url == "https://minio.internal:9000"
    assert (settings.region, settings.force_path_style, settings.storage_class) == ("ap-south-1", True, "STANDARD_IA")
    assert settings.object_lock_days == 30 and settings.recipients == (RECIPIENT,)
    assert settings.identity_file == Path("/keys/identity.txt")
    assert (settings.access_key_id, settings.secret_access_key) == ("AKIAEXAMPLE", "from-a-docker-secret")
    assert "from-a-docker-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BACKUP_S3_URL", "s3://A_Bucket/x", "'A_Bucket' is not a bucket name"),
        ("BACKUP_S3_URL", "s3://bucket/a/../b", "the prefix part '..' is not allowed"),
        ("BACKUP_S3_URL", "gs://bucket", "is not an s3:// URL"),
        ("BACKUP_S3_ENDPOINT_URL", "ftp://host", "is not an http(s) URL"),
        ("BACKUP_S3_ENDPOINT_URL", "http://host:99999", "has no valid port"),
        ("BACKUP_S3_REGION", "AP South", "is not a region name"),
        ("BACKUP_S3_STORAGE_CLASS", "GLACIER", "not GLACIER or DEEP_ARCHIVE"),
        ("BACKUP_S3_OBJECT_LOCK_DAYS", "-1", "is out of range"),
        ("BACKUP_S3_TIMEOUT_MINUTES", "0", "is out of range"),
        ("BACKUP_S3_FORCE_PATH_STYLE", "perhaps", "is not a boolean"),
        ("BACKUP_AGE_RECIPIENTS", "ssh-ed25519 AAAA", "is not an age public key"),
        ("BACKUP_AGE_RECIPIENTS", "AGE-SECRET-KEY-1QQQ", "holds a private key"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY is not"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_is_allowed(
    env: dict[str, str], name: str, value: str, expected: str
) -> None:
    env[name] = value
    message = refusal(env)
    assert name in message and expected in message and "allowed:" in message
    assert "AGE-SECRET-KEY-1QQQ" not in message


def test_a_secret_in_the_endpoint_url_is_refused_without_repeating_it(env: dict[str, str]) -> None:
    env["BACKUP_S3_ENDPOINT_URL"] = "https://key:hunter2@minio.internal"
    message = refusal(env)
    assert "BACKUP_S3_ENDPOINT_URL" in message and "hunter2" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BACKUP_S3_URL", "s3://AKIAEXAMPLE:hunter2@bucket/x"),
        ("BACKUP_S3_URL", "s3://hunter2@bucket"),
        ("BACKUP_S3_URL", "s3://host:9000/hunter2"),
        ("BACKUP_S3_URL", "https://AKIAEXAMPLE:hunter2@bucket/x"),
        ("BACKUP_S3_URL", "S3://AKIAEXAMPLE:hunter2@bucket/x"),
        ("BACKUP_S3_URL", "s3://bad_bucket/AKIAEXAMPLE:hunter2@x"),
        ("BACKUP_S3_URL", "s3://bucket/ok/AKIAEXAMPLE:hunter2@x y"),
        ("BACKUP_S3_ENDPOINT_URL", "s3://AKIAEXAMPLE:hunter2@host:9000"),
        ("BACKUP_S3_ENDPOINT_URL", "https://AKIAEXAMPLE:hunter2@"),
        ("BACKUP_S3_ENDPOINT_URL", "http://AKIAEXAMPLE:hunter2@host:99999"),
    ],
)
def test_a_secret_in_a_url_is_refused_without_repeating_it(env: dict[str, str], name: str, value: str) -> None:
    env[name] = value
    message = refusal(env)
    assert name in message and "allowed:" in message
    assert "hunter2" not in message and "AKIAEXAMPLE" not in message


def test_the_off_site_step_is_bounded_by_an_hour_unless_told_otherwise(env: dict[str, str]) -> None:
    assert offsite(env).timeout_minutes == 60
    env["BACKUP_S3_TIMEOUT_MINUTES"] = "5"
    assert offsite(env).timeout_minutes == 5


def test_the_credential_chain_variables_are_kept_for_boto3_and_not_shown(env: dict[str, str]) -> None:
    env.update(AWS_ROLE_ARN="arn:aws:iam::1:role/backup", AWS_CONTAINER_AUTHORIZATION_TOKEN="tok-hunter2")
    settings = offsite(env)
    assert dict(settings.chain) == {
        "AWS_ROLE_ARN": "arn:aws:iam::1:role/backup",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "tok-hunter2",
    }
    assert "hunter2" not in repr(settings)


def test_a_recipients_file_names_the_line_that_is_not_a_key(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "recipients.txt").write_text(f"{RECIPIENT}\nnot-a-key\n")
    env["BACKUP_AGE_RECIPIENTS_FILE"] = str(tmp_path / "recipients.txt")
    assert "BACKUP_AGE_RECIPIENTS_FILE line 2: 'not-a-key' is not an age public key" in refusal(env)


def test_off_site_settings_without_a_url_are_refused(env: dict[str, str]) -> None:
    del env["BACKUP_S3_URL"]
    env["BACKUP_S3_ENDPOINT_URL"] = "http://minio:9000"
    message = refusal(env)
    assert "BACKUP_S3_ENDPOINT_URL is set but BACKUP_S3_URL is empty" in message


class RefusingStore(BaseHTTPRequestHandler):
    """An S3 endpoint that refuses every request's credentials, as S3 does for an unknown access key (moto, the
    tests' S3 server, accepts any key and enforces no policy, so this is what it cannot be made to do); with
    `code` AccessDenied, as S3 does for a permission the credentials' policy lacks."""

    code = b"InvalidAccessKeyId"

    def refuse(self) -> None:
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>' + self.code + b"</Code><Message>The AWS Access "
            b"Key Id you provided does not exist in our records.</Message></Error>"
        )
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = refuse  # noqa: N815 - http.server's method names

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def refusing_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingStore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_credentials_the_store_refuses_are_a_setting_to_fix(env: dict[str, str], refusing_endpoint: str) -> None:
    env.update(BACKUP_S3_ENDPOINT_URL=refusing_endpoint, AWS_ACCESS_KEY_ID="AKIAWRONG", AWS_SECRET_ACCESS_KEY="nope")
    store = Store(offsite(env))

    with pytest.raises(ConfigError) as caught:
        store.list_objects()

    message = str(caught.value)
    assert "InvalidAccessKeyId" in message and "AWS_ACCESS_KEY_ID" in message and "nope" not in message


class DenyingStore(RefusingStore):
    code = b"AccessDenied"


def test_a_permission_the_credentials_lack_is_a_setting_to_fix(env: dict[str, str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), DenyingStore)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env.update(
        BACKUP_S3_ENDPOINT_URL=f"http://127.0.0.1:{server.server_address[1]}",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="example",
    )
    try:
        with pytest.raises(ConfigError, match="AccessDenied.*lack a permission"):
            Store(offsite(env)).upload("afirgen/prod/x.json", io.BytesIO(b"{}"))
    finally:
        server.shutdown()


def test_the_endpoint_is_backup_s3_endpoint_url_never_an_aws_endpoint_variable(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    env.update(AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="example", BACKUP_S3_REGION="ap-south-1")

    to_aws = Store(offsite(env)).client.meta.endpoint_url
    to_minio = Store(offsite(dict(env, BACKUP_S3_ENDPOINT_URL="http://127.0.0.1:9000"))).client.meta.endpoint_url

    assert to_aws == "https://s3.ap-south-1.amazonaws.com"
    assert to_minio == "http://127.0.0.1:9000"
