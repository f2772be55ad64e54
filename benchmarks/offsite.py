"""Off-site upload benchmark (issue #12): the tool's upload of a backup against boto3's own `upload_file` of the same
file to the same endpoint, and the tool's peak memory while it uploads.

`make bench-offsite` (BENCH_ARGS="--size-mb 200 --repeat 2" for a quick run). It starts moto's S3 server on a free
port of 127.0.0.1 (the same fake the tests use: what it measures is the client side, the server being the same for
every variant), writes a file of --size-mb MB (10^6 bytes) of random bytes (a gzip file does not compress further,
and neither does this) as a published backup with its manifest under benchmarks/work/offsite/, then runs, in
alternating order each round, every variant in a child process of its own (so that each one's peak RSS is its own:
the child's ru_maxrss, read by itself at its end):
- baseline: boto3's `upload_file` with its defaults (8 MiB parts, 10 threads);
- tool: the tool's upload of the file as a run makes it (offsite.copies.send_plain: boto3's managed multipart
  upload of the file, 16 MiB parts, 4 in flight), without the read-back check;
- tool, encrypted: the upload through age encryption (pyrage, X25519; send_encrypted: a stream, at most 4 parts
  held in memory), without the read-back check;
- tool, whole copy: offsite.copies.upload_backup, i.e. upload, read back and check the sha256, then the manifest.
Targets: the tool's upload at least 0.80x the baseline's throughput (median of the rounds); peak RSS of every tool
variant under 150 MB. Exit 1 when a target fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work" / "offsite"
BUCKET = "bench-offsite"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}
RSS_LIMIT_MB = 150
THROUGHPUT_TARGET = 0.80
VARIANTS = ("baseline", "tool", "tool-encrypted", "tool-whole-copy")

# What each variant runs in its child: prints one JSON line with its upload time.
CHILD = r"""
import json, sys, time
from pathlib import Path
variant, endpoint, path, key, recipient = sys.argv[1:6]
import boto3
from afirgen_backup import catalog
from afirgen_backup.config.offsite import OffsiteSettings
from afirgen_backup.offsite.copies import upload_backup
from afirgen_backup.offsite.store import Store
settings = OffsiteSettings(
    bucket="%(bucket)s", prefix="bench", endpoint_url=endpoint, force_path_style=True,
    access_key_id="bench", secret_access_key="bench-secret",
    recipients=(recipient,) if variant == "tool-encrypted" else (),
)
started = time.perf_counter()
if variant == "baseline":
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench-secret")
    client.upload_file(path, "%(bucket)s", key)
elif variant == "tool-whole-copy":
    entry = catalog.entry_for(Path(path))
    upload_backup(Store(settings), entry)
else:
    store = Store(settings)
    with open(path, "rb") as handle:
        if variant == "tool":
            store.upload(key, handle)
        else:
            from afirgen_backup.offsite.crypto import HashingReader, encrypting
            with encrypting(handle, settings.recipients) as stream:
                store.upload(key, HashingReader(stream))
import resource
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""".replace("%(bucket)s", BUCKET)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, endpoint
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"moto's S3 server did not start; see {log}")


def make_backup(size_mb: int) -> Path:
    """A file of random bytes named and published like a backup, with its manifest (reused when it exists)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "mysql_backup_20261204_000000.sql.gz"
    size = size_mb * 1_000_000
    if not path.exists() or path.stat().st_size != size:
        digest = hashlib.sha256()
        with path.open("wb") as out:
            left = size
            while left:
                block = os.urandom(min(left, 8 << 20))
                digest.update(block)
                out.write(block)
                left -= len(block)
        manifest = {"format": 1, "file": path.name, "kind": "mysql", "sha256": digest.hexdigest(), "size": size}
        (WORK / (path.name + ".json")).write_text(json.dumps(manifest))
    return path


def run_variant(variant: str, endpoint: str, path: Path, recipient: str, round_number: int) -> dict[str, float]:
    key = f"bench/{variant}-{round_number}"
    env = {**os.environ, **CREDENTIALS, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, variant, endpoint, str(path), key, recipient],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{variant} failed: {stderr.decode(errors='replace')[-2000:]}")
    measured = json.loads(stdout.decode().strip().splitlines()[-1])  # the child's own ru_maxrss, at its end
    return {"seconds": measured["seconds"], "wall": wall, "rss_mb": measured["rss_kb"] / 1024}


def clear_bucket(endpoint: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.offsite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1000, help="size of the backup file (MB of 10^6 bytes)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each variant once per round)")
    args = parser.parse_args(argv)

    from pyrage import x25519

    recipient = str(x25519.Identity.generate().to_public())
    path = make_backup(args.size_mb)
    with tempfile.TemporaryDirectory(prefix="afirgen-bench-moto-") as temp:
        server, endpoint = start_moto(Path(temp) / "moto.log")
        try:
            import boto3

            boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            ).create_bucket(Bucket=BUCKET)
            results: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
            for round_number in range(args.repeat):
                order = VARIANTS if round_number % 2 == 0 else tuple(reversed(VARIANTS))
                for variant in order:
                    results[variant].append(run_variant(variant, endpoint, path, recipient, round_number))
                    clear_bucket(endpoint)  # moto keeps objects in memory
        finally:
            server.terminate()
            server.wait(timeout=30)
    return report(results, args.size_mb, args.repeat)


def report(results: dict[str, list[dict[str, float]]], size_mb: int, repeat: int) -> int:
    print(f"off-site upload benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {size_mb} MB file, {repeat} rounds")
    medians = {variant: statistics.median(r["seconds"] for r in runs) for variant, runs in results.items()}
    baseline = medians["baseline"]
    failed = False
    for variant in VARIANTS:
        rss = max(r["rss_mb"] for r in results[variant])
        ratio = baseline / medians[variant]
        line = (
            f"  {variant:<16} {medians[variant]:7.2f} s  {size_mb / medians[variant]:7.1f} MB/s  "
            f"{ratio:5.2f}x the baseline's throughput  peak RSS {rss:6.1f} MB"
        )
        if variant != "baseline":
            rss_ok = rss < RSS_LIMIT_MB
            line += f"  RSS {'PASS' if rss_ok else 'FAIL'}"
            failed |= not rss_ok
        if variant == "tool":
            speed_ok = ratio >= THROUGHPUT_TARGET
            line += f"  throughput {'PASS' if speed_ok else 'FAIL'} (target {THROUGHPUT_TARGET:.2f}x)"
            failed |= not speed_ok
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
