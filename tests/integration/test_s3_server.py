"""The test infrastructure of the off-site copies is faithful where the tool relies on it.

moto's S3 server stands in for S3, so each S3 behaviour the off-site tests will count on is checked here
against it: multipart uploads that round-trip, S3's 5 MiB minimum part, Object Lock's COMPLIANCE retention,
unfinished uploads that stay listed until aborted, and a server that really goes away when killed and answers
again (empty) when restarted. Debian's age CLI, which the tests use to check what the tool encrypts, and pyrage,
which the tool uses, must read each other's files.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pyrage
import pytest
from age_keys import AgeKeypair
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from s3_server import S3Server

MIB = 1 << 20
#: S3's smallest part but the last, and the part size these tests upload in.
PART = 5 * MIB
#: Three parts: two of PART and a short last one.
PAYLOAD_SIZE = 12 * MIB
#: A client that gives up fast and never retries: a dead endpoint must show as one prompt connection error.
IMPATIENT = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1, "mode": "standard"})
#: How long a request to a killed server may take to fail (it should fail at once: the port is closed).
DEAD_SERVER_SECONDS = 5.0


def error_code(error: ClientError) -> str:
    """The S3 error code of a failed request (e.g. EntityTooSmall, AccessDenied)."""
    return str(error.response["Error"]["Code"])


def sha256(data: bytes) -> str:
    """Hex SHA-256 of the bytes."""
    return hashlib.sha256(data).hexdigest()


class OneWayStream(io.RawIOBase):
    """A readable, unseekable stream over bytes: like the pipe of a compressor, which the tool uploads from."""

    def __init__(self, data: bytes) -> None:
        self.source = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.source.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def upload_in_parts(s3: Any, bucket: str, key: str, data: bytes) -> None:
    """CreateMultipartUpload, UploadPart in PART-sized parts, CompleteMultipartUpload."""
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for number, offset in enumerate(range(0, len(data), PART), start=1):
        answer = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data[offset : offset + PART]
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def upload_managed(s3: Any, bucket: str, key: str, data: bytes) -> None:
    """boto3's managed transfer from an unseekable stream, in PART-sized parts (how the tool uploads)."""
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, use_threads=False)
    s3.upload_fileobj(OneWayStream(data), bucket, key, Config=config)


@pytest.mark.parametrize("upload", [upload_in_parts, upload_managed], ids=["part-by-part", "managed-stream"])
def test_multipart_upload_round_trips(
    s3_server: S3Server, s3_bucket: str, upload: Callable[[Any, str, str, bytes], None]
) -> None:
    """12 MiB in 5 MiB parts comes back byte for byte, as one object of three parts."""
    s3 = s3_server.client()
    data = os.urandom(PAYLOAD_SIZE)
    upload(s3, s3_bucket, "fir-backups/payload.bin", data)

    head = s3.head_object(Bucket=s3_bucket, Key="fir-backups/payload.bin")
    assert head["ContentLength"] == PAYLOAD_SIZE
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    body = s3.get_object(Bucket=s3_bucket, Key="fir-backups/payload.bin")["Body"].read()
    assert sha256(body) == sha256(data)


def test_small_part_before_the_last_is_refused(s3_server: S3Server, s3_bucket: str) -> None:
    """A part under 5 MiB that is not the last fails CompleteMultipartUpload with EntityTooSmall; no object is made
    and the upload stays open (to be aborted), as on S3."""
    s3 = s3_server.client()
    key = "fir-backups/too-small.bin"
    upload = s3.create_multipart_upload(Bucket=s3_bucket, Key=key)["UploadId"]
    parts = []
    for number, size in enumerate((PART - 1, PART), start=1):
        answer = s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=upload, PartNumber=number, Body=b"x" * size)
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    assert error_code(refused.value) == "EntityTooSmall"
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])] == [upload]


def test_compliance_retention_keeps_the_version(s3_server: S3Server, s3_locked_bucket: str) -> None:
    """Under COMPLIANCE retention a version cannot be deleted by its id, even with the governance bypass; a
    delete without a version id only hides it behind a delete marker."""
    s3 = s3_server.client()
    key = "fir-backups/locked.bin"
    assert s3.get_bucket_versioning(Bucket=s3_locked_bucket)["Status"] == "Enabled"
    version = s3.put_object(
        Bucket=s3_locked_bucket,
        Key=key,
        Body=b"kept",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
    )["VersionId"]
    assert s3.head_object(Bucket=s3_locked_bucket, Key=key, VersionId=version)["ObjectLockMode"] == "COMPLIANCE"

    for bypass in (False, True):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=s3_locked_bucket, Key=key, VersionId=version, BypassGovernanceRetention=bypass)
        assert error_code(refused.value) == "AccessDenied"

    marker = s3.delete_object(Bucket=s3_locked_bucket, Key=key)
    assert marker["DeleteMarker"] is True
    with pytest.raises(ClientError) as hidden:
        s3.head_object(Bucket=s3_locked_bucket, Key=key)
    assert error_code(hidden.value) == "404"
    versions = s3.list_object_versions(Bucket=s3_locked_bucket, Prefix=key)
    assert [v["VersionId"] for v in versions["Versions"]] == [version]
    assert [m["VersionId"] for m in versions["DeleteMarkers"]] == [marker["VersionId"]]
    assert s3.get_object(Bucket=s3_locked_bucket, Key=key, VersionId=version)["Body"].read() == b"kept"


def test_unfinished_upload_is_listed_until_aborted(s3_server: S3Server, s3_bucket: str) -> None:
    """An upload started and never completed shows in ListMultipartUploads; AbortMultipartUpload removes it."""
    s3 = s3_server.client()
    key = "fir-backups/interrupted.bin"
    upload = s3.create_multipart_upload(Bucket=s3_bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"y" * PART)

    listed = s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in listed] == [(key, upload)]

    s3.abort_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=upload)
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=s3_bucket, Key=key, UploadId=upload)
    assert error_code(gone.value) == "NoSuchUpload"
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket)


def test_killed_server_fails_requests_promptly(private_s3_server: S3Server) -> None:
    """After kill() a request fails with a connection error within seconds, from a client that talked to the
    server before and from a new one."""
    s3 = private_s3_server.client(IMPATIENT)
    s3.list_buckets()

    private_s3_server.kill()
    for client in (s3, private_s3_server.client(IMPATIENT)):
        began = time.monotonic()
        with pytest.raises(EndpointConnectionError):
            client.list_buckets()
        assert time.monotonic() - began < DEAD_SERVER_SECONDS


@pytest.mark.parametrize("down", ["stop", "kill"])
def test_restarted_server_answers_empty(private_s3_server: S3Server, down: str) -> None:
    """start() after stop() or kill() answers again on the same endpoint, with none of the old buckets."""
    endpoint = private_s3_server.endpoint_url
    private_s3_server.create_bucket()
    getattr(private_s3_server, down)()
    assert not private_s3_server.running

    private_s3_server.start()
    assert private_s3_server.endpoint_url == endpoint
    s3 = private_s3_server.client(IMPATIENT)
    assert s3.list_buckets()["Buckets"] == []
    bucket = private_s3_server.create_bucket()
    s3.put_object(Bucket=bucket, Key="after-restart", Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key="after-restart")["Body"].read() == b"ok"


def test_offsite_env_reaches_its_bucket(offsite_env: dict[str, str], backup_env: dict[str, str]) -> None:
    """The off-site settings alone name an existing bucket on the server, reachable path-style with their
    region and keys; backup_env itself is left without them."""
    url = urlsplit(offsite_env["BACKUP_S3_URL"])
    assert (url.scheme, url.path) == ("s3", "/fir-backups")
    assert offsite_env["BACKUP_S3_FORCE_PATH_STYLE"] == "true"
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=offsite_env["BACKUP_S3_ENDPOINT_URL"],
        region_name=offsite_env["BACKUP_S3_REGION"],
        aws_access_key_id=offsite_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=offsite_env["AWS_SECRET_ACCESS_KEY"],
        config=IMPATIENT.merge(Config(s3={"addressing_style": "path"})),
    )
    s3.put_object(Bucket=url.netloc, Key="fir-backups/probe", Body=b"probe")
    listed = s3.list_objects_v2(Bucket=url.netloc, Prefix="fir-backups/")["Contents"]
    assert [entry["Key"] for entry in listed] == ["fir-backups/probe"]
    assert not {name for name in backup_env if name.startswith(("BACKUP_S3_", "AWS_"))}


def test_age_cli_and_pyrage_read_each_other(age_keypair: AgeKeypair, tmp_path: Path) -> None:
    """A file `age -r` encrypts, pyrage decrypts; a file pyrage encrypts, `age -d -i` decrypts."""
    assert age_keypair.identity_file.stat().st_mode & 0o777 == 0o600
    recipient = pyrage.x25519.Recipient.from_str(age_keypair.recipient)
    identity = pyrage.x25519.Identity.from_str(age_keypair.identity)
    plaintext = os.urandom(MIB + 17)

    by_cli = tmp_path / "by-cli.age"
    subprocess.run(["age", "-r", age_keypair.recipient, "-o", str(by_cli)], input=plaintext, check=True, timeout=60)
    assert by_cli.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert pyrage.decrypt(by_cli.read_bytes(), [identity]) == plaintext

    by_pyrage = pyrage.encrypt(plaintext, [recipient])
    assert by_pyrage.startswith(b"age-encryption.org/v1\n")
    decrypted = subprocess.run(
        ["age", "-d", "-i", str(age_keypair.identity_file)],
        input=by_pyrage,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert decrypted == plaintext
