"""Time the CWE catalog: XML parse, cache loads, search, and the `ctiforge cwe` commands.

Run: python benchmarks/catalog.py [--runs 5]

"Empty home" runs start with an empty CTIFORGE_HOME: the shipped catalog then
loads from the prebuilt file beside the zip, and a copy of the zip without
that file is parsed and cached. "Cached" runs reuse the cache. Figures are
medians over --runs runs and include Python start-up for the CLI rows. CLI
rows give wall-clock and CPU time, since CPU time varies less when other
processes share the machine. The
CLI runs may write bytecode caches (as an installed package has them), even
when PYTHONDONTWRITEBYTECODE is set in the calling shell.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple


class Timing(NamedTuple):
    """Wall-clock and CPU (user + system) seconds of one command."""

    wall: float
    cpu: float


def _time_cli(args: list[str], home: Path) -> Timing:
    env = dict(os.environ, CTIFORGE_HOME=str(home))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ctiforge", *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def _median(timings: list[Timing]) -> str:
    wall = statistics.median(timing.wall for timing in timings)
    cpu = statistics.median(timing.cpu for timing in timings)
    return f"{wall:.3f} s wall, {cpu:.3f} s CPU"


def _child_peak_rss_mib(code: str, home: Path) -> float:
    """Run Python code in a fresh process and return that process's peak resident memory in MiB.

    Reads VmHWM from /proc (Linux only), because ru_maxrss survives exec and
    would report this benchmark's own peak when that is larger.
    """
    env = dict(os.environ, CTIFORGE_HOME=str(home))
    report = (
        "\nfor line in open('/proc/self/status'):\n"
        "    if line.startswith('VmHWM:'): print(line.split()[1])"
    )
    result = subprocess.run([sys.executable, "-c", code + report], env=env, check=True,
                            capture_output=True, text=True)
    # /proc reports VmHWM in kB.
    return int(result.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median reported)")
    options = parser.parse_args()

    from ctiforge.catalog import SHIPPED_CATALOG, Catalog

    # Other processes on the machine slow every figure, so print the load.
    print(f"load average at start (1 min):      {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    from ctiforge.catalog._xml import parse_catalog_file

    parse_times = []
    for _ in range(options.runs):
        start = time.perf_counter()
        parsed = parse_catalog_file(SHIPPED_CATALOG)
        parse_times.append(time.perf_counter() - start)
    print(f"parse shipped XML zip (no cache):   {statistics.median(parse_times):.3f} s "
          f"({len(parsed.entries)} entries)")

    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        copy = Path(scratch) / "copy" / SHIPPED_CATALOG.name
        copy.parent.mkdir()
        shutil.copyfile(SHIPPED_CATALOG, copy)
        show_copy = ["cwe", "--catalog", str(copy), "show", "CWE-787"]

        shipped = [_time_cli(["cwe", "show", "CWE-787"], Path(scratch) / f"empty-{run}") for run in range(options.runs)]
        parsed_copy = [_time_cli(show_copy, Path(scratch) / f"parse-{run}") for run in range(options.runs)]
        _time_cli(show_copy, home)
        cached_copy = [_time_cli(show_copy, home) for _ in range(options.runs)]
        search = [_time_cli(["cwe", "search", "out-of-bounds write"], home) for _ in range(options.runs)]
        version = [_time_cli(["--version"], home) for _ in range(options.runs)]
        print(f"cwe show, shipped, empty home:      {_median(shipped)} (prebuilt file)")
        print(f"cwe show, zip copy, empty home:     {_median(parsed_copy)} (XML parse)")
        print(f"cwe show, zip copy, cached:         {_median(cached_copy)}")
        print(f"cwe search, shipped:                {_median(search)}")
        print(f"ctiforge --version (start-up only): {_median(version)}")

        os.environ["CTIFORGE_HOME"] = str(home)
        from ctiforge.catalog._cache import load_parsed

        cache_times = []
        for _ in range(options.runs):
            start = time.perf_counter()
            cached, _ = load_parsed(copy)
            cache_times.append(time.perf_counter() - start)
        print(f"load parsed catalog from cache:     {statistics.median(cache_times):.3f} s (in process)")

        catalog = Catalog(cached.entries, version=cached.version)
        start = time.perf_counter()
        catalog.search("out-of-bounds write")
        first_search = time.perf_counter() - start
        queries = ["sql injection", "use after free", "path traversal", "race condition", "xss"]
        start = time.perf_counter()
        for query in queries:
            catalog.search(query)
        per_query = (time.perf_counter() - start) / len(queries)
        print(f"first search (builds the index):    {first_search:.3f} s")
        print(f"later searches, per query:          {per_query * 1000:.1f} ms")

        cache_size = sum(path.stat().st_size for path in (home / "catalog").glob("*.json.gz"))
        print(f"cache file size:                    {cache_size / 2**20:.2f} MiB")

        load_code = f"from ctiforge.catalog import load_catalog; load_catalog({str(copy)!r})"
        rss_cold = _child_peak_rss_mib(load_code, Path(scratch) / "rss-parse")
        rss_warm = _child_peak_rss_mib(load_code, home)
        print(f"peak RSS, load with XML parse:      {rss_cold:.0f} MiB")
        print(f"peak RSS, load from cache:          {rss_warm:.0f} MiB")
    print(f"load average at end (1 min):        {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
