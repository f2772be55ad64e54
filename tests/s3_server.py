"""A throwaway S3 API server for the off-site tests: moto's server, a real HTTP endpoint on 127.0.0.1.

It runs as its own process (`python -m moto.server`), not as moto's in-process mock, so the code under test talks
to it the way it talks to S3: over TCP, through botocore's HTTP stack, from the CLI's own process. It can be
killed (SIGKILL) mid-run and started again on the same port.

moto keeps every bucket and object in the server process's memory (objects larger than a few MB spill to
temporary files, which live in the server's own temp dir here). A stop, a kill or a crash therefore loses
everything: a restarted server is empty, like a fresh account. Tests that need data across a restart must
upload it again.

Where moto 5.2.5 is faithful, tests/integration/test_s3_server.py checks it. Where it is not, a test cannot rely on
it; it does not check:

- credentials and signatures: any access key and secret are accepted, even unsigned requests (ACCESS_KEY and
  SECRET_KEY are dummies), so a wrong key cannot be tested against it;
- upload digests: a wrong Content-MD5 or x-amz-checksum-crc32/sha256 is stored without BadDigest, so damage in
  transit cannot be simulated with a bad header;
- COMPLIANCE retention settings: PutObjectRetention may shorten it or turn it into GOVERNANCE (S3 refuses both);
  only deleting a version under retention is refused, as on S3;
- bucket names: uppercase letters and underscores pass (only the length is checked); `create_bucket` here
  refuses the names real S3 refuses.

and it differs from S3 in these:

- GetObjectRetention is not implemented (500 Internal Server Error); HeadObject and GetObject do return
  ObjectLockMode and ObjectLockRetainUntilDate;
- PutObjectLockConfiguration (a default retention) is refused on a bucket that holds objects (InvalidBucket);
- every response closes its connection (werkzeug's development server): no keep-alive connection is reused;
- CompleteMultipartUpload's Location is a virtual-host URL on s3.amazonaws.com, not on the endpoint.

It is started with a minimal environment: moto reads many variables (S3_UPLOAD_PART_MIN_SIZE among them, which
would loosen the 5 MiB minimum part size real S3 enforces), and a developer's shell must not change what the
fake accepts.

No pytest dependency: `python tests/s3_server.py` starts one by hand.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mariadb_server import die_with_parent, free_port

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.config import Config

REGION = "us-east-1"
#: moto checks neither the key nor the signature; these only have the shape of AWS credentials.
ACCESS_KEY = "AKIAAFIRGENTESTS3KEY"
SECRET_KEY = "afirgen-test-secret-key-not-checked-by-moto"
#: What real S3 allows: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
BUCKET_PREFIX = "afirgen-test-"
PORT_TAKEN = b"Address already in use"
#: werkzeug's banner, logged once the server's socket is bound and listening.
LISTENING = b"Running on http://"
START_ATTEMPTS = 3


class S3ServerError(RuntimeError):
    """The throwaway S3 server could not be started or stopped."""


def valid_bucket_name(name: str) -> bool:
    """Whether real S3 would accept `name` for a new bucket (moto accepts more, see the module docstring)."""
    return bool(BUCKET_NAME.fullmatch(name)) and ".." not in name and not re.fullmatch(r"[0-9.]+", name)


@dataclass
class S3Server:
    """One moto S3 server process on 127.0.0.1, with its own temp dir (log and spilled objects)."""

    basedir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="s3-")))
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    start_timeout: float = 30.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    start_seconds: float = field(default=0.0, init=False)
    #: Set once the server has answered on `port`: from then on a start keeps that port, as clients hold its URL.
    port_fixed: bool = field(default=False, init=False)
    _admin: BaseClient | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """Check that moto's server and boto3 can be imported by this Python."""
        missing = [name for name in ("moto.server", "boto3") if importlib.util.find_spec(name) is None]
        if missing:
            with contextlib.suppress(OSError):
                self.basedir.rmdir()
            raise S3ServerError(
                f"{' and '.join(missing)} cannot be imported by {sys.executable}: "
                "pip install -r requirements-dev.txt into the venv"
            )

    @property
    def endpoint_url(self) -> str:
        """The URL clients send their requests to (http, path-style buckets)."""
        return f"http://{self.host}:{self.port}"

    @property
    def region(self) -> str:
        """The region clients should name: us-east-1, where a bucket needs no LocationConstraint."""
        return REGION

    @property
    def access_key(self) -> str:
        """A dummy AWS access key id (moto accepts any)."""
        return ACCESS_KEY

    @property
    def secret_key(self) -> str:
        """A dummy AWS secret access key (moto verifies no signature)."""
        return SECRET_KEY

    @property
    def log(self) -> Path:
        """The server's stdout and stderr: werkzeug's request log and any traceback (read it when something fails)."""
        return self.basedir / "server.log"

    @property
    def tmpdir(self) -> Path:
        """The server's TMPDIR, where moto spills large objects; removed with the server."""
        return self.basedir / "tmp"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def server_command(self) -> list[str]:
        """The command line of moto's server, run by this Python (the venv's moto)."""
        return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]

    def server_env(self) -> dict[str, str]:
        """A minimal environment, so no MOTO_* or S3_* variable of the developer's changes what moto accepts."""
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self.basedir),
            "TMPDIR": str(self.tmpdir),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def start(self) -> None:
        """Start the server and wait until it answers; a no-op while it runs.

        A first start moves to another free port if its port was taken between choosing and binding. A restart
        keeps the port it ran on (clients and settings hold the endpoint URL) and fails if that port was taken.
        A restarted server is empty: moto keeps no state across processes.
        """
        if self.running:
            return
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(START_ATTEMPTS):
            logged = self.log.stat().st_size if self.log.exists() else 0
            try:
                self.launch()
            except S3ServerError as error:
                said = self.log.read_bytes()[logged:] if self.log.exists() else b""
                if PORT_TAKEN not in said or attempt == START_ATTEMPTS - 1:
                    raise
                if self.port_fixed:
                    raise S3ServerError(
                        f"cannot restart the S3 server on port {self.port}: another program took it while the "
                        "server was down"
                    ) from error
                self.port = free_port()
            else:
                self.port_fixed = True
                return

    def launch(self) -> None:
        """Spawn the server once and wait until it answers; kill it if it does not."""
        started = time.monotonic()
        logged = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.server_command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.basedir,
                env=self.server_env(),
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        try:
            self.wait_until_ready(started, logged)
        except BaseException:
            self.kill()
            raise
        self.start_seconds = time.monotonic() - started

    def wait_until_ready(self, started: float, logged: int) -> None:
        """Poll the endpoint until S3's ListBuckets answers, or raise with the tail of the server's log.

        The answer counts only once this process has logged that it is listening (past `logged`, the log's size
        at launch): another moto that took the port first would answer too, while ours fails to bind and exits.
        """
        assert self.process is not None
        while time.monotonic() - started < self.start_timeout:
            if self.process.poll() is not None:
                raise S3ServerError(
                    f"moto's S3 server exited with {self.process.returncode} while starting on port {self.port}:\n"
                    f"{self.log_tail()}"
                )
            if self.listening(logged) and self.answers():
                return
            time.sleep(0.05)
        raise S3ServerError(
            f"moto's S3 server did not answer on {self.endpoint_url} within {self.start_timeout}s:\n{self.log_tail()}"
        )

    def listening(self, logged: int) -> bool:
        """True once the log, past offset `logged`, has werkzeug's banner, printed after its socket is bound."""
        try:
            with open(self.log, "rb") as log:
                log.seek(logged)
                return LISTENING in log.read()
        except OSError:
            return False

    def answers(self) -> bool:
        """True when an unsigned ListBuckets (GET /) gets S3's XML answer: the port is moto's, and moto is up."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            return response.status == 200 and b"<ListAllMyBucketsResult" in response.read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def kill(self) -> None:
        """SIGKILL the server at once (S3 gone mid-request) and reap it; everything it held is lost."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server with SIGTERM (moto exits at once); SIGKILL it if it does not exit in time."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def cleanup(self) -> None:
        """Stop the server and delete its temp dir: its log and any object it spilled to disk."""
        self.stop()
        shutil.rmtree(self.basedir, ignore_errors=True)

    def client(self, config: Config | None = None) -> BaseClient:
        """A boto3 S3 client for this server: its endpoint, region and dummy credentials, path-style addressing.

        `config` adds to that (timeouts, retries); its `s3` options are replaced by path-style addressing, as a
        host-style bucket name (bucket.127.0.0.1) cannot resolve.
        """
        import boto3
        from botocore.config import Config

        settings = Config(s3={"addressing_style": "path"})
        if config is not None:
            settings = config.merge(settings)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=settings,
        )

    def admin(self) -> BaseClient:
        """The client the helpers below use; made once (a boto3 client takes tens of milliseconds to build)."""
        if self._admin is None:
            self._admin = self.client()
        return self._admin

    def create_bucket(self, name: str | None = None, object_lock: bool = False) -> str:
        """Create a bucket (a new unique name unless given) and return its name.

        `object_lock=True` enables Object Lock, which also turns versioning on, as on S3; no default retention
        is set. A given name must be one real S3 accepts, since moto would take some it refuses.
        """
        name = name or f"{BUCKET_PREFIX}{secrets.token_hex(8)}"
        if not valid_bucket_name(name):
            raise ValueError(f"{name!r} is not a bucket name S3 accepts (3-63 of a-z 0-9 . -, alphanumeric ends)")
        self.admin().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return name

    def remove_bucket(self, name: str) -> bool:
        """Abort the bucket's unfinished uploads, delete every version and delete marker, then the bucket.

        Versions under COMPLIANCE retention or a legal hold cannot be deleted: they and their bucket then stay
        until the server stops, and this returns False. A session-long server needs this, or its memory grows
        with every test's uploads.
        """
        from botocore.exceptions import ClientError

        s3 = self.admin()
        try:
            for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
                for upload in page.get("Uploads", []):
                    s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    with contextlib.suppress(ClientError):
                        s3.delete_object(
                            Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"], BypassGovernanceRetention=True
                        )
            s3.delete_bucket(Bucket=name)
        except ClientError:
            return False
        return True

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for failure messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(the server logged nothing)"

    def __enter__(self) -> S3Server:
        """Start the server for a `with` block."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server and remove its files."""
        self.cleanup()


if __name__ == "__main__":
    with S3Server() as server:
        print(f"S3 (moto) up in {server.start_seconds:.2f}s: {server.endpoint_url}, region {server.region}")
        print(f"AWS_ACCESS_KEY_ID={server.access_key} AWS_SECRET_ACCESS_KEY={server.secret_key}")
        print("Press Ctrl-C to stop and remove it.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
