"""The off-site settings: where copies go (an S3 bucket and prefix, any S3-compatible endpoint), how they are
encrypted before they leave (age X25519 recipients), and the credentials.

Off-site copies are off while BACKUP_S3_URL is empty; then no other off-site setting may be set (one that is set
would look like it does something). Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (each also as a
`*_FILE`, a Docker secret), AWS_SESSION_TOKEN, or a profile of the AWS files (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,
AWS_CONFIG_FILE); with none of them, boto3's own chain (an instance or task role). They are handed to boto3
explicitly, never exported to a child process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from afirgen_backup.config.values import parse_bool, parse_int, read_secret, utf8_text
from afirgen_backup.errors import ConfigError

OFFSITE_SETTINGS = (
    "BACKUP_S3_URL",
    "BACKUP_S3_ENDPOINT_URL",
    "BACKUP_S3_REGION",
    "BACKUP_S3_FORCE_PATH_STYLE",
    "BACKUP_S3_STORAGE_CLASS",
    "BACKUP_S3_OBJECT_LOCK_DAYS",
    "BACKUP_S3_TIMEOUT_MINUTES",
    "BACKUP_AGE_RECIPIENTS",
    "BACKUP_AGE_RECIPIENTS_FILE",
    "BACKUP_AGE_IDENTITY_FILE",
)
AWS_SETTINGS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_ACCESS_KEY_ID_FILE",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY_FILE",
    "AWS_SESSION_TOKEN",
    "AWS_SESSION_TOKEN_FILE",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)
# What boto3's own credential chain reads from the environment (a container or task role, a web identity, a CA
# bundle): no settings of ours, passed to boto3 as they are, and to the cron job (actions/job_env.py). A token file
# is passed by its path, never copied: the platform renews it where it is.
AWS_CHAIN_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CA_BUNDLE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_METADATA_SERVICE_TIMEOUT",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
    "AWS_STS_REGIONAL_ENDPOINTS",
)
DEFAULT_REGION = "us-east-1"
DEFAULT_TIMEOUT_MINUTES = 60
# Every class a stored object can be read back from at once: a copy counts only once it was read back and checked,
# which GLACIER and DEEP_ARCHIVE allow only after a restore request of hours.
STORAGE_CLASSES = (
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "REDUCED_REDUNDANCY",
)
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
PREFIX_PART = re.compile(r"[A-Za-z0-9!_.*'()=+,;:@$&-]+")
RECIPIENT_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class OffsiteSettings:
    bucket: str
    prefix: str = ""  # without a leading or trailing slash; "" puts the objects at the bucket's top
    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    force_path_style: bool = False
    storage_class: str | None = None
    object_lock_days: int = 0
    timeout_minutes: int = DEFAULT_TIMEOUT_MINUTES  # the longest a run's off-site step may take
    recipients: tuple[str, ...] = ()  # age X25519 public keys (`age1...`); empty: copies leave unencrypted
    identity_file: Path | None = None  # only where a restore or verify of a remote copy must decrypt
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None
    credentials_file: Path | None = None
    config_file: Path | None = None
    chain: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # AWS_CHAIN_VARIABLES that are set

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def encrypted(self) -> bool:
        return bool(self.recipients)

    def key(self, name: str) -> str:
        """The object key of a file name under the prefix."""
        return f"{self.prefix}/{name}" if self.prefix else name


def parse_offsite(env: Mapping[str, str]) -> OffsiteSettings | None:
    """The off-site settings, None when BACKUP_S3_URL is empty (every setting is read either way)."""
    values = {name: env.get(name, "").strip() for name in (*OFFSITE_SETTINGS, *AWS_SETTINGS)}
    url = values["BACKUP_S3_URL"]
    if not url:
        given = [name for name in OFFSITE_SETTINGS if values[name]]
        if given:
            raise ConfigError(
                f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set but BACKUP_S3_URL is empty, so "
                "off-site copies are off; allowed: BACKUP_S3_URL=s3://bucket/prefix to turn them on, or leave "
                f"{'it' if len(given) == 1 else 'them'} empty"
            )
        return None
    bucket, prefix = parse_s3_url(url)
    access_key, secret_key = read_secret(env, "AWS_ACCESS_KEY_ID"), read_secret(env, "AWS_SECRET_ACCESS_KEY")
    if bool(access_key) != bool(secret_key):
        pair = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        given_name, missing = pair if access_key else pair[::-1]
        raise ConfigError(
            f"{given_name} is set but {missing} is not; allowed: both (or their *_FILE forms), or neither (a profile "
            "or the instance's role)"
        )
    return OffsiteSettings(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=parse_endpoint(values["BACKUP_S3_ENDPOINT_URL"]),
        region=parse_region(values["BACKUP_S3_REGION"]),
        force_path_style=parse_bool(env, "BACKUP_S3_FORCE_PATH_STYLE", False),
        storage_class=parse_storage_class(values["BACKUP_S3_STORAGE_CLASS"]),
        object_lock_days=parse_int(
            env, "BACKUP_S3_OBJECT_LOCK_DAYS", 0, minimum=0, maximum=36500, what="a number of days (0: off)"
        ),
        timeout_minutes=parse_int(
            env,
            "BACKUP_S3_TIMEOUT_MINUTES",
            DEFAULT_TIMEOUT_MINUTES,
            minimum=1,
            maximum=1440,
            what="the minutes a run's off-site step may take",
        ),
        recipients=read_recipients(values["BACKUP_AGE_RECIPIENTS"], values["BACKUP_AGE_RECIPIENTS_FILE"]),
        identity_file=Path(values["BACKUP_AGE_IDENTITY_FILE"]) if values["BACKUP_AGE_IDENTITY_FILE"] else None,
        access_key_id=access_key or None,
        secret_access_key=secret_key or None,
        session_token=read_secret(env, "AWS_SESSION_TOKEN") or None,
        profile=utf8_text("AWS_PROFILE", values["AWS_PROFILE"]) or None,
        credentials_file=Path(values["AWS_SHARED_CREDENTIALS_FILE"]) if values["AWS_SHARED_CREDENTIALS_FILE"] else None,
        config_file=Path(values["AWS_CONFIG_FILE"]) if values["AWS_CONFIG_FILE"] else None,
        chain=tuple((name, env[name]) for name in AWS_CHAIN_VARIABLES if env.get(name, "").strip()),
    )


def parse_s3_url(url: str) -> tuple[str, str]:
    allowed = "allowed: s3://bucket or s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, dots, hyphens)"
    if not url.startswith("s3://"):
        raise ConfigError(f"BACKUP_S3_URL={shown_url(url)!r} is not an s3:// URL; {allowed}")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if "@" in bucket or ":" in bucket:  # never repeat what could be a key and a secret
        raise ConfigError(
            f"BACKUP_S3_URL holds a user name, password or port before the bucket; {allowed}, credentials in the "
            "AWS_* variables and the endpoint in BACKUP_S3_ENDPOINT_URL"
        )
    if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ConfigError(f"BACKUP_S3_URL: {bucket[:80]!r} is not a bucket name; {allowed}")
    parts = [part for part in prefix.strip("/").split("/")] if prefix.strip("/") else []
    for part in parts:
        if not PREFIX_PART.fullmatch(part) or part in (".", ".."):
            shown = repr(part[:80]) if "@" not in part else "with a '@' in it"  # could be key:secret@...
            raise ConfigError(
                f"BACKUP_S3_URL: the prefix part {shown} is not allowed; {allowed}, the prefix made of "
                "letters, digits and !_.*'()=+,;:@$&- between single slashes, no '.' or '..'"
            )
    return bucket, "/".join(parts)


def shown_url(raw: str) -> str:
    """A URL fit to repeat in a message: no user name or password (anything before an '@' in its authority),
    at most 120 characters."""
    scheme, separator, rest = raw.partition("://")
    if separator:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rpartition("@")[2]
        raw = f"{scheme}://{authority}{slash}{path if '@' not in path else '...'}"
    elif "@" in raw:
        return "***"
    return raw if len(raw) <= 120 else raw[:117] + "..."


def parse_endpoint(raw: str) -> str | None:
    if not raw:
        return None
    allowed = "allowed: http(s)://host[:port] of an S3-compatible service (credentials go in AWS_* variables)"
    parts = urlsplit(raw)
    if "@" in parts.netloc or (parts.scheme not in ("http", "https") and "@" in raw):
        # never repeat what could be a secret
        raise ConfigError(f"BACKUP_S3_ENDPOINT_URL holds a user name or password; {allowed}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"BACKUP_S3_ENDPOINT_URL={shown_url(raw)!r} is not an http(s) URL; {allowed}")
    if parts.query or parts.fragment:
        raise ConfigError(f"BACKUP_S3_ENDPOINT_URL={shown_url(raw)!r} has a query or fragment; {allowed}")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        raise ConfigError(f"BACKUP_S3_ENDPOINT_URL={shown_url(raw)!r} has no valid port; {allowed}") from None
    return raw.rstrip("/")


def parse_region(raw: str) -> str:
    if not raw:
        return DEFAULT_REGION
    if not REGION_NAME.fullmatch(raw):
        raise ConfigError(
            f"BACKUP_S3_REGION={raw!r} is not a region name; allowed: lowercase letters, digits and hyphens, "
            f"e.g. {DEFAULT_REGION} or ap-south-1"
        )
    return raw


def parse_storage_class(raw: str) -> str | None:
    if not raw:
        return None
    if raw.upper() not in STORAGE_CLASSES:
        raise ConfigError(
            f"BACKUP_S3_STORAGE_CLASS={raw!r} is not allowed; allowed: {', '.join(STORAGE_CLASSES)} (a copy must "
            "be readable at once to be checked: not GLACIER or DEEP_ARCHIVE)"
        )
    return raw.upper()


def read_recipients(text: str, file_name: str) -> tuple[str, ...]:
    """The age X25519 recipients of BACKUP_AGE_RECIPIENTS (separated by commas or white space) and of the lines of
    BACKUP_AGE_RECIPIENTS_FILE (age's recipients file: one per line, `#` comments)."""
    from pyrage import RecipientError, x25519

    words = RECIPIENT_SEPARATORS.split(text)
    found: list[tuple[str, str]] = [("BACKUP_AGE_RECIPIENTS", word) for word in words if word]
    if file_name:
        try:
            lines = Path(file_name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise ConfigError(
                f"BACKUP_AGE_RECIPIENTS_FILE={file_name!r} cannot be read ({reason}); allowed: a text file of age "
                "public keys, one per line"
            ) from None
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                found.append((f"BACKUP_AGE_RECIPIENTS_FILE line {number}", line))
    for where, key in found:
        try:
            x25519.Recipient.from_str(key)
        except RecipientError:
            if key.upper().startswith("AGE-SECRET-KEY-"):  # an identity: never repeated, never kept on this host
                raise ConfigError(
                    f"{where} holds a private key (AGE-SECRET-KEY-...), not a public one; allowed: only public keys "
                    "`age1...` here; keep the identity off this host (BACKUP_AGE_IDENTITY_FILE only where a restore "
                    "must decrypt)"
                ) from None
            shown = key if len(key) <= 80 else key[:77] + "..."
            raise ConfigError(
                f"{where}: {shown!r} is not an age public key; allowed: X25519 recipients `age1...` as age-keygen "
                "prints them (`age-keygen -y identity.txt`)"
            ) from None
    return tuple(dict.fromkeys(key for _, key in found))
