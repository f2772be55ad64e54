"""The compression table: time and size of each candidate compressor on one captured dump of the generated fir_db.

The dump is captured once to a file in the work dir (page cache: the timings are of the compressor, not the disk),
then compressed with ISA-L levels 0-3 through isal.igzip_threaded (the tool's number of threads), with Python's
gzip module at level 6, and with `gzip -6`. Decompression time (ISA-L, what a restore pays) is measured for each output.
"""

from __future__ import annotations

import gzip
import resource
import statistics
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
    cpu_seconds: float | None  # None: another process did the work (gzip CLI)


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


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (the threaded compressor's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(dump: Path, out_dir: Path, threads: int, repeat: int = 1) -> list[Row]:
    """Each ISA-L level `repeat` times, the order reversed every other round; medians of wall and CPU time.

    The CPU time is what the level rule compares (run.py): it is what a level takes from the application, and on a
    shared machine it varies less than the wall time."""
    out = out_dir / "level-test.gz"
    levels = (0, 1, 2, 3)
    walls: dict[int, list[float]] = {lvl: [] for lvl in levels}
    cpus: dict[int, list[float]] = {lvl: [] for lvl in levels}
    sizes: dict[int, int] = {}
    decompress: dict[int, float] = {}
    for round_no in range(repeat):
        for lvl in levels if round_no % 2 == 0 else tuple(reversed(levels)):
            t0, c0 = time.perf_counter(), _cpu_seconds()
            _copy(dump, lambda lvl=lvl: igzip_threaded.open(out, "wb", compresslevel=lvl, threads=threads))
            walls[lvl].append(time.perf_counter() - t0)
            cpus[lvl].append(_cpu_seconds() - c0)
            sizes[lvl] = out.stat().st_size
            if round_no == repeat - 1:
                decompress[lvl] = _decompress_time(out)
            seconds = f"{walls[lvl][-1]:.2f} s, CPU {cpus[lvl][-1]:.2f} s"
            print(f"    isal L{lvl}: {seconds}, {sizes[lvl] / 1e6:.1f} MB", flush=True)
    rows = [
        Row(
            f"isal L{lvl} ({threads} threads)",
            lvl,
            statistics.median(walls[lvl]),
            sizes[lvl],
            decompress[lvl],
            statistics.median(cpus[lvl]),
        )
        for lvl in levels
    ]
    t0, c0 = time.perf_counter(), _cpu_seconds()
    _copy(dump, lambda: gzip.open(out, "wb", compresslevel=6))  # noqa: SIM115 - _copy closes it
    rows.append(
        Row("python gzip -6 (zlib)", None, time.perf_counter() - t0, out.stat().st_size, _decompress_time(out),
            _cpu_seconds() - c0)
    )  # fmt: skip
    print(f"    python gzip -6 (zlib): {rows[-1].seconds:.2f} s, {rows[-1].size / 1e6:.1f} MB", flush=True)
    t0 = time.perf_counter()
    with open(dump, "rb") as fin, open(out, "wb") as fout:
        subprocess.run(["gzip", "-6", "-c"], stdin=fin, stdout=fout, check=True)
    secs = time.perf_counter() - t0
    rows.append(Row("gzip -6 (CLI)", None, secs, out.stat().st_size, _decompress_time(out), None))
    print(f"    gzip -6 (CLI): {secs:.2f} s, {out.stat().st_size / 1e6:.1f} MB", flush=True)
    out.unlink(missing_ok=True)
    return rows
