"""Measure the input readers and `ctiforge map --evaluate` on a real NVD yearly feed.

Prints, for the feed given (default: the 2018 NVD JSON 1.1 feed beside the checkout):
  * `read_records` time, records per second and peak memory of a fresh process;
  * the same for `json.load` of the whole feed, for comparison;
  * wall time of `ctiforge map --file FEED --evaluate` with the shipped mapper.

Usage: python benchmarks/sources.py [FEED] [--skip-map]
Each measurement runs in its own single-threaded subprocess, so peak memory
(ru_maxrss) belongs to that measurement alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_FEED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nvd" / "nvdcve-1.1-2018.json.gz"

_READ_RECORDS = """
import resource, sys, time
from ctiforge.sources import CveRecord, read_records
started = time.perf_counter()
mapped = skipped = 0
for record in read_records(sys.argv[1]):
    if isinstance(record, CveRecord):
        mapped += 1
    else:
        skipped += 1
seconds = time.perf_counter() - started
print(mapped, skipped, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

_JSON_LOAD = """
import gzip, json, resource, sys, time
started = time.perf_counter()
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as handle:
    items = json.load(handle)["CVE_Items"]
seconds = time.perf_counter() - started
print(len(items), 0, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _run_child(code: str, feed: Path) -> tuple[int, int, float, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    output = subprocess.run([sys.executable, "-c", code, str(feed)], capture_output=True, text=True,
                            check=True, env=env).stdout.split()
    records, skipped, seconds, max_rss_kib = int(output[0]), int(output[1]), float(output[2]), float(output[3])
    return records, skipped, seconds, max_rss_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("feed", nargs="?", type=Path, default=DEFAULT_FEED)
    parser.add_argument("--skip-map", action="store_true", help="Do not time `ctiforge map --evaluate`.")
    args = parser.parse_args()

    records, skipped, seconds, peak = _run_child(_READ_RECORDS, args.feed)
    print(f"feed: {args.feed.name}")
    print(f"read_records: {records:,} records + {skipped:,} skipped in {seconds:.2f} s "
          f"({(records + skipped) / seconds:,.0f} records/s), peak RSS {peak:.0f} MiB")
    items, _, seconds, peak = _run_child(_JSON_LOAD, args.feed)
    print(f"json.load (comparison): {items:,} items in {seconds:.2f} s, peak RSS {peak:.0f} MiB")

    if args.skip_map:
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "ctiforge", "map", "--file", str(args.feed), "--evaluate", "--json"],
                            capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(f"ctiforge map --evaluate failed: {result.stderr.strip().splitlines()[-1]}")
        return
    report = json.loads(result.stdout)
    mapped = report["summary"]["mapped"]
    print(f"ctiforge map --evaluate: {mapped:,} records mapped in {seconds:.1f} s wall "
          f"({mapped / seconds:,.0f} records/s, model load included); "
          f"top-1 {report['top1_accuracy']}, top-3 {report['top3_accuracy']} on {report['evaluated']:,} records")


if __name__ == "__main__":
    main()
