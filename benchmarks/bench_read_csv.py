"""Peak memory of reading a large valid ``imu.csv`` (issue 14, defect 7): the streaming reader
(:func:`saferoad.adapters.recording.saferoad_format.read_imu_csv`, fixed-size chunks parsed
into preallocated float64 arrays) against the whole-file read it replaced (one
``pyarrow.csv.read_csv`` of the file, its column chunks concatenated, then ``column_stack``),
measured in the same run, each in a fresh process.

    .venv/bin/python benchmarks/bench_read_csv.py [--mb 200]

Prints, per case, the peak resident memory above the process's resident size after its imports
(``/proc/self/clear_refs`` resets the high-water mark; Linux only), the wall time, and the
size of the arrays the read returns (what any reader must hold).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

CASE = r"""
import json, sys, time
from pathlib import Path
import numpy as np
import pyarrow as pa, pyarrow.csv as pacsv, pyarrow.compute as pc
from saferoad.adapters.recording.saferoad_format import read_imu_csv

def rss_kib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
    raise RuntimeError(key)

def whole_file(path):
    # What read_numeric_csv + read_imu_csv did before streaming (same calls, same order).
    names = ["t_s", "ax", "ay", "az", "gx", "gy", "gz"]
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.float64() for c in names}, include_columns=names, strings_can_be_null=True
        ),
    )
    cols = {}
    for c in names:
        chunks = [np.frombuffer(ch.buffers()[1], dtype=np.float64, count=len(ch), offset=ch.offset * 8)
                  for ch in table.column(c).chunks]
        cols[c] = np.concatenate(chunks)
    acc = np.column_stack([cols["ax"], cols["ay"], cols["az"]])
    gyro = np.column_stack([cols["gx"], cols["gy"], cols["gz"]])
    return cols["t_s"], acc, gyro

path, how = Path(sys.argv[1]), sys.argv[2]
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset VmHWM to the current resident size
base = rss_kib("VmRSS")
t0 = time.perf_counter()
if how == "streaming":
    imu = read_imu_csv(path)
    out = (imu.t_s, imu.acc, imu.gyro)
else:
    out = whole_file(path)
wall = time.perf_counter() - t0
peak = rss_kib("VmHWM")
print(json.dumps({"peak_mib": (peak - base) / 1024, "wall_s": wall, "rows": len(out[0]),
                  "arrays_mib": sum(a.nbytes for a in out) / 2**20}))
"""


def _write_imu(path: Path, target_mb: int) -> None:
    """A valid 200 Hz imu.csv of about ``target_mb`` MB (values with a device's 4-5 digits)."""
    rng = np.random.default_rng(0)
    rows_per_block = 200_000
    names = ["t_s", "ax", "ay", "az", "gx", "gy", "gz"]
    with path.open("wb") as fh:
        fh.write((",".join(names) + "\n").encode())
        i = 0
        while fh.tell() < target_mb * 1_000_000:
            n = rows_per_block
            t = (np.arange(i, i + n) * 0.005).round(3)
            acc = (rng.normal(0, 0.8, (n, 3)) + np.array([0.0, 0.0, 9.81])).round(4)
            gyro = rng.normal(0, 0.05, (n, 3)).round(5)
            cols = [t, *acc.T, *gyro.T]
            table = pa.Table.from_arrays([pa.array(c) for c in cols], names=names)
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False))
            i += n


def _run(path: Path, how: str) -> dict[str, float]:
    res = subprocess.run([sys.executable, "-c", CASE, str(path), how], check=True, capture_output=True, text=True)
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200, help="size of the generated imu.csv in MB")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-read-csv-") as tmp:
        path = Path(tmp) / "imu.csv"
        t0 = time.perf_counter()
        _write_imu(path, args.mb)
        size_mib = path.stat().st_size / 2**20
        print(f"imu.csv: {size_mib:.0f} MiB written in {time.perf_counter() - t0:.1f} s; cores {os.cpu_count()}")
        results = {how: _run(path, how) for how in ("whole-file (before)", "streaming")}
    for how, r in results.items():
        print(
            f"{how:20s} peak RSS +{r['peak_mib']:6.0f} MiB ({r['peak_mib'] / size_mib:.2f}x the file, "
            f"{r['peak_mib'] / r['arrays_mib']:.2f}x the {r['arrays_mib']:.0f} MiB of arrays returned); "
            f"{r['wall_s']:.2f} s; {int(r['rows'])} rows"
        )


if __name__ == "__main__":
    main()
