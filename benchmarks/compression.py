"""The compression table: time and size of each candidate compressor on one captured dump of the generated fir_db.

The dump is captured once to a file in the work dir (page cache: the timings are of the compressor, not the disk),
then compressed with ISA-L levels 0-3 through isal.igzip_threaded (the tool's number of threads), with Python's
gzip module at level 6, and with `gzip -6`. Decompression time (ISA-L, what a restore pays) is measured for each output.
"""

from __future__ import annotations

import gzip
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from isal import igzip, igzip_threaded

BLOCK = 1 << 20


@dataclass
class Row:
    name: str
    level: int | None
    seconds: float
    size: int
    decompress_seconds: float


def _copy(src: Path, dst_open) -> None:  # noqa: ANN001
    with open(src, "rb") as fin, dst_open() as fout:
        while True:
            block = fin.read(BLOCK)
            if not block:
                break
            fout.write(block)


def _decompress_time(path: Path) -> float:
    t0 = time.perf_counter()
    with igzip.open(path, "rb") as f:
        while f.read(BLOCK):
            pass
    return time.perf_counter() - t0


def measure(dump: Path, out_dir: Path, threads: int) -> list[Row]:
    rows: list[Row] = []
    out = out_dir / "level-test.gz"
    candidates = [
        (
            f"isal L{lvl} ({threads} threads)",
            lvl,
            lambda lvl=lvl: igzip_threaded.open(out, "wb", compresslevel=lvl, threads=threads),
        )
        for lvl in (0, 1, 2, 3)
    ]
    candidates.append(("python gzip -6 (zlib)", None, lambda: gzip.open(out, "wb", compresslevel=6)))  # noqa: SIM115
    for name, lvl, opener in candidates:
        t0 = time.perf_counter()
        _copy(dump, opener)
        secs = time.perf_counter() - t0
        rows.append(Row(name, lvl, secs, out.stat().st_size, _decompress_time(out)))
        print(f"    {name}: {secs:.2f} s, {out.stat().st_size / 1e6:.1f} MB", flush=True)
    t0 = time.perf_counter()
    with open(dump, "rb") as fin, open(out, "wb") as fout:
        subprocess.run(["gzip", "-6", "-c"], stdin=fin, stdout=fout, check=True)
    secs = time.perf_counter() - t0
    rows.append(Row("gzip -6 (CLI)", None, secs, out.stat().st_size, _decompress_time(out)))
    print(f"    gzip -6 (CLI): {secs:.2f} s, {out.stat().st_size / 1e6:.1f} MB", flush=True)
    out.unlink(missing_ok=True)
    return rows
