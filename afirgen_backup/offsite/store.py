"""The S3 bucket behind the off-site copies, through boto3, with every failure turned into one line.

Timeouts are bounded (an endpoint that does not answer fails a request within CONNECT_TIMEOUT + READ_TIMEOUT per
attempt, MAX_ATTEMPTS attempts), uploads go through boto3's managed transfer in PART_SIZE parts with at most
CONCURRENCY of them in memory at once, whatever the source. Errors that a setting must fix (credentials the store
refuses, a missing bucket, no permission) are ConfigError (exit 2) naming the setting; the others (the endpoint
unreachable, the connection lost) are OffsiteFailed (exit 1). No message carries a credential: botocore's messages
name the operation and the error code, never the keys.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import Session as BotocoreSession

from afirgen_backup.config.offsite import OffsiteSettings
from afirgen_backup.errors import BackupError, ConfigError
from afirgen_backup.offsite.guard import Deadline, connections_cut_when_over, run_within

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
MAX_ATTEMPTS = 3
PART_SIZE = 8 << 20  # 8 MiB: 1,000 parts (some stores' limit) make 8 GB, beyond any sessions.db or FIR dump here
CONCURRENCY = 4  # parts in flight: the memory bound of an upload from a stream is about CONCURRENCY parts
READ_CHUNK = 1 << 20
QUICK_SECONDS = 30
# Error codes that a setting must fix: exit 2, naming what to check.
CREDENTIAL_ERRORS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidClientTokenId"}
)
# botocore's errors while it reads the AWS files and settings: exit 2 (the others, such as a task role's endpoint
# that does not answer, may pass: exit 1).
SETTING_ERRORS = frozenset(
    {"ProfileNotFound", "ConfigParseError", "InvalidConfigError", "ConfigNotFound", "UnknownCredentialError"}
)
NO_OBJECT_LOCK = (
    "BACKUP_S3_OBJECT_LOCK_DAYS is set but the bucket has no Object Lock (it is turned on when a bucket is made); "
    "allowed: a bucket made with Object Lock, or BACKUP_S3_OBJECT_LOCK_DAYS=0"
)
BUCKET_ERRORS = frozenset({"NoSuchBucket", "InvalidBucketName", "PermanentRedirect", "AuthorizationHeaderMalformed"})


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


class OffsiteFailed(BackupError):
    """The store could not be reached or did not do what was asked (exit 1): a run reports it, the next run retries."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime | None = None
    version_id: str | None = None
    retain_until: datetime | None = None  # Object Lock retention, when the object has one
    legal_hold: bool = False  # an Object Lock legal hold: no deletion until someone lifts it


def describe_client_error(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    code = str(details.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "?")
    return code, str(details.get("Message") or "")


def make_client(settings: OffsiteSettings, quick: bool) -> Any:
    """The S3 client, its credentials found (ConfigError when a profile or an AWS file is wrong)."""
    config = Config(
        region_name=settings.region,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=CONNECT_TIMEOUT if quick else READ_TIMEOUT,
        retries={"total_max_attempts": 1 if quick else MAX_ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": "path" if settings.force_path_style else "auto"},
        user_agent_appid="afirgen-backup",
        ignore_configured_endpoint_urls=True,  # the endpoint is BACKUP_S3_ENDPOINT_URL's, never AWS_ENDPOINT_URL*
    )
    try:
        botocore_session = BotocoreSession()
        if settings.credentials_file is not None:
            botocore_session.set_config_variable("credentials_file", str(settings.credentials_file))
        if settings.config_file is not None:
            botocore_session.set_config_variable("config_file", str(settings.config_file))
        session = boto3.Session(
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            aws_session_token=settings.session_token,
            profile_name=settings.profile,
            botocore_session=botocore_session,
        )
        return session.client("s3", endpoint_url=settings.endpoint_url, config=config)
    except BotoCoreError as error:
        if type(error).__name__ in SETTING_ERRORS:  # a profile that does not exist, an AWS file that cannot be read
            raise ConfigError(
                f"off-site copies: {error}; check AWS_PROFILE, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE"
            ) from None
        raise OffsiteFailed(f"off-site copies: no credentials now: {error}") from None  # a role's endpoint, say


class Store:
    """One bucket and prefix of an S3-compatible service."""

    def __init__(self, settings: OffsiteSettings, *, quick: bool = False, seconds: float = math.inf) -> None:
        """quick: one attempt and a short read timeout, the whole within QUICK_SECONDS (check-config: it runs at
        every container start and must not hold it up when the store does not answer). seconds: how long the
        store may take in all (a run's off-site step: BACKUP_S3_TIMEOUT_MINUTES); its requests stop then, and at
        a SIGTERM/SIGINT, once the caller is inside `watched()`."""
        self.settings = settings
        for name, value in settings.chain:  # boto3's credential chain reads them from the environment
            os.environ.setdefault(name, value)  # never a child's: process.py scrubs the environment
        if quick:
            seconds = min(seconds, QUICK_SECONDS)
            why = f"{self.where} did not answer within {QUICK_SECONDS} s"
        else:
            why = (
                f"the off-site step took longer than BACKUP_S3_TIMEOUT_MINUTES={settings.timeout_minutes} at "
                f"{self.where}; the next run does what it did not"
            )
        self.deadline = Deadline(seconds, OffsiteFailed, why)
        # The credentials are looked for while the client is made (a task role's endpoint, a credential_process):
        # within the deadline too.
        self.client: Any = run_within(self.deadline, lambda: make_client(settings, quick))
        # once it is over: no request sent (but an upload's abort), none retried
        self.client.meta.events.register_first("before-send.s3", self.deadline.check_request)
        self.client.meta.events.register_first("needs-retry.s3", self.deadline.check_stop)
        # A stream that cannot seek (an encrypted copy) is read a part at a time into memory: at most CONCURRENCY
        # parts are held (boto3's default would hold 10); a file is read by each part's thread where it lies.
        self.transfer = TransferConfig(
            multipart_threshold=PART_SIZE,
            multipart_chunksize=PART_SIZE,
            max_concurrency=CONCURRENCY,
            use_threads=True,
        )
        self.transfer.max_in_memory_upload_chunks = CONCURRENCY  # s3transfer's setting, which boto3 does not pass

    @property
    def where(self) -> str:
        endpoint = f" at {self.settings.endpoint_url}" if self.settings.endpoint_url else ""
        return f"{self.settings.url}{endpoint}"

    @contextlib.contextmanager
    def failures(self, doing: str) -> Iterator[None]:
        """Turn what boto3 raises while `doing` into ConfigError or OffsiteFailed, one line each (Interrupted, or
        the deadline's OffsiteFailed, when the request failed because the store's time was over)."""
        try:
            try:
                yield
            except (ClientError, BotoCoreError, OSError):
                self.deadline.check_stop()
                raise
        except ClientError as error:
            code, message = describe_client_error(error)
            text = f"{doing} {self.where} failed: {code} {message}".rstrip()
            if code in CREDENTIAL_ERRORS:
                raise ConfigError(
                    f"{text}; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
                ) from None
            if code in BUCKET_ERRORS:
                raise ConfigError(f"{text}; check BACKUP_S3_URL, BACKUP_S3_REGION and BACKUP_S3_ENDPOINT_URL") from None
            if self.settings.object_lock_days and "objectlock" in message.lower().replace(" ", ""):
                raise ConfigError(f"{text}; {NO_OBJECT_LOCK}") from None
            if code == "AccessDenied":
                raise ConfigError(f"{text}; the credentials lack a permission: see docs/offsite.md (AWS S3)") from None
            raise OffsiteFailed(text) from None
        except BotoCoreError as error:  # no connection, a timeout, no credentials at all
            name = type(error).__name__
            if name in ("NoCredentialsError", "PartialCredentialsError", "ProfileNotFound"):
                raise ConfigError(
                    f"{doing} {self.where} failed: {error}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                    "AWS_PROFILE"
                ) from None
            raise OffsiteFailed(f"{doing} {self.where} failed: {error}") from None

    def watched(self) -> contextlib.AbstractContextManager[None]:
        """Inside, the connections to the store are cut once its deadline has passed or a signal came (guard.py)."""
        return connections_cut_when_over(self.deadline)

    def check(self) -> None:
        """The bucket answers to these credentials (HEAD bucket)."""
        with self.failures("reaching"):
            try:
                self.client.head_bucket(Bucket=self.settings.bucket)
            except ClientError as error:
                code, _ = describe_client_error(error)
                if code in ("404", "NoSuchBucket"):
                    raise ConfigError(
                        f"the bucket of BACKUP_S3_URL={self.settings.url} does not exist at "
                        f"{self.settings.endpoint_url or 'AWS'}; create it, or correct BACKUP_S3_URL"
                    ) from None
                if code in ("403", "AccessDenied"):
                    raise ConfigError(
                        f"the credentials may not use the bucket of BACKUP_S3_URL={self.settings.url} (403); check "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy"
                    ) from None
                raise
        if self.settings.object_lock_days:
            self.check_object_lock()

    def check_object_lock(self) -> None:
        """BACKUP_S3_OBJECT_LOCK_DAYS asks for a bucket with Object Lock: ConfigError when it has none."""
        with self.failures("reading the Object Lock configuration of"):
            try:
                answer = self.client.get_object_lock_configuration(Bucket=self.settings.bucket)
            except ClientError as error:
                if describe_client_error(error)[0] == "ObjectLockConfigurationNotFoundError":
                    raise ConfigError(f"the bucket of BACKUP_S3_URL={self.settings.url}: {NO_OBJECT_LOCK}") from None
                raise
        if answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise ConfigError(f"the bucket of BACKUP_S3_URL={self.settings.url}: {NO_OBJECT_LOCK}")

    def upload(self, key: str, stream: Readable, extra: dict[str, Any] | None = None) -> None:
        """Upload what `stream` yields to `key` (multipart beyond PART_SIZE; a failed one is aborted by boto3)."""
        with self.failures(f"uploading {key} to"):
            self.client.upload_fileobj(stream, self.settings.bucket, key, ExtraArgs=extra or {}, Config=self.transfer)

    def head(self, key: str) -> StoredObject | None:
        with self.failures(f"reading {key} in"):
            try:
                answer = self.client.head_object(Bucket=self.settings.bucket, Key=key)
            except ClientError as error:
                if describe_client_error(error)[0] in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise
        return StoredObject(
            key,
            int(answer["ContentLength"]),
            answer.get("LastModified"),
            answer.get("VersionId"),
            answer.get("ObjectLockRetainUntilDate"),
        )

    def read(self, key: str) -> Iterator[bytes]:
        """The object's bytes, READ_CHUNK at a time."""
        with self.failures(f"downloading {key} from"):
            body = self.client.get_object(Bucket=self.settings.bucket, Key=key)["Body"]
            try:
                while chunk := body.read(READ_CHUNK):
                    yield chunk
            finally:
                body.close()

    def list_objects(self, under: str = "") -> list[StoredObject]:
        """Every object under the prefix, or the folder `under` it (`binlog/`), not deeper levels' own."""
        prefix = (f"{self.settings.prefix}/" if self.settings.prefix else "") + under
        found = []
        with self.failures("listing"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.settings.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    if "/" not in item["Key"][len(prefix) :]:
                        found.append(StoredObject(item["Key"], int(item["Size"]), item.get("LastModified")))
        return found

    def versions(self, key: str) -> list[StoredObject]:
        """Every version of the object `key` (one, "null", on a bucket without versioning), each with its Object
        Lock retention and legal hold (HeadObject gives both to whoever may read the object and its lock:
        s3:GetObjectRetention, s3:GetObjectLegalHold)."""
        found = []
        with self.failures(f"reading the versions of {key} in"):
            pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.settings.bucket, Prefix=key)
            for page in pages:
                for version in page.get("Versions", []):
                    if version["Key"] != key:
                        continue
                    versioned = {"VersionId": version["VersionId"]} if version["VersionId"] != "null" else {}
                    answer = self.client.head_object(Bucket=self.settings.bucket, Key=key, **versioned)
                    found.append(
                        StoredObject(
                            key,
                            int(version["Size"]),
                            version.get("LastModified"),
                            version["VersionId"],
                            answer.get("ObjectLockRetainUntilDate"),
                            answer.get("ObjectLockLegalHoldStatus") == "ON",
                        )
                    )
        return found

    def delete(self, stored: StoredObject) -> None:
        """Delete the object; on a versioned bucket its version, so that the data goes and not only its name."""
        with self.failures(f"deleting {stored.key} from"):
            if stored.version_id and stored.version_id != "null":
                self.client.delete_object(Bucket=self.settings.bucket, Key=stored.key, VersionId=stored.version_id)
            else:
                self.client.delete_object(Bucket=self.settings.bucket, Key=stored.key)

    def abort_unfinished_uploads(self, before: datetime, ours: Callable[[str], bool]) -> list[str]:
        """Abort the multipart uploads started before `before` (a run that was killed) of the keys under the prefix
        that `ours` recognises (a backup's or a manifest's name, an archived binary log's under binlog/); the keys
        aborted. Another program's uploads under the same prefix are left alone."""
        prefix = f"{self.settings.prefix}/" if self.settings.prefix else ""
        aborted = []
        with self.failures("cleaning up unfinished uploads in"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.settings.bucket, Prefix=prefix
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    started = upload.get("Initiated")
                    name = upload["Key"][len(prefix) :]
                    if (started is not None and started >= before) or not ours(name):
                        continue
                    self.client.abort_multipart_upload(
                        Bucket=self.settings.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted.append(upload["Key"])
        return aborted
