"""Time a full corpus build and measure the near-duplicate score distribution.

Usage:
    python benchmarks/corpus.py DATA_DIR [--out DIR] [--threshold-study]

DATA_DIR contains nvd/ (the 17 NVD JSON 1.1 feeds), attack/ (ATT&CK and CAPEC
STIX bundles) and cti-bench/ (the CTIBench TSV files). The build uses all
of them plus the shipped CWE catalog, with decontamination against every
CTIBench file, and prints records per source and records removed per
benchmark. `--threshold-study` also prints, for NVD descriptions, the
containment score against their own benchmark item (same CVE ID: true
duplicates) and the highest score against any item with another CVE ID.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from ctiforge.corpus import BenchmarkIndex, Query, build_corpus, load_config  # noqa: E402
from ctiforge.corpus._config import Decontamination  # noqa: E402


def run_build(data: Path, out: Path) -> None:
    overrides = [
        f"sources.cve.paths=[{data / 'nvd' / 'nvdcve-1.1-*.json.gz'}]",
        f"sources.attack={data / 'attack' / 'enterprise-attack-v18.1.json.gz'}",
        f"sources.capec={data / 'attack' / 'capec-2.1.json.gz'}",
        f"decontamination.ctibench_dir={data / 'cti-bench'}",
    ]
    config = load_config(None, overrides)
    started = time.perf_counter()
    result = build_corpus(config, out, overwrite=True)
    elapsed = time.perf_counter() - started
    records = result.manifest["records"]
    print(f"full build: {elapsed:.1f} s wall ({', '.join(f'{k} {v:.1f} s' for k, v in result.timings.items())})")
    print(f"records written: {records['written']:,} of {records['generated']:,} generated")
    for source, count in records["by_source"].items():
        print(f"  {source:<10} {count:>8,} written, {records['removed_by_source'].get(source, 0):>6,} removed")
    for name, entry in result.report["benchmarks"].items():
        print(f"  removed for {name:<14} {entry['records_removed']:>6,}  {entry['by_reason']}")
    print(f"answer letters: {result.manifest['answer_letters']}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mib:,.0f} MiB")


def threshold_study(data: Path) -> None:
    from ctiforge.sources import CveRecord, read_records

    settings = Decontamination()
    files = sorted((data / "cti-bench").glob("cti-*.tsv"))
    index = BenchmarkIndex.from_files(files, threshold=0.05, shingle_size=settings.shingle_size,
                                      min_shingles=settings.min_shingles)
    records = [r for path in sorted((data / "nvd").glob("nvdcve-1.1-*.json.gz"))
               for r in read_records(path) if isinstance(r, CveRecord)]
    # Compare texts only: the CVE IDs decide which pairs are the same vulnerability.
    hits = index.find([Query(texts=[r.description]) for r in records])
    same, other = [], []
    for record, record_hits in zip(records, hits):
        own = [h.score for h in record_hits if h.item.cve_id == record.cve_id]
        rest = [h.score for h in record_hits if h.item.cve_id != record.cve_id]
        if own:
            same.append(max(own))
        other.append(max(rest, default=0.0))
    same_scores, other_scores = np.array(same), np.array(other)
    print(f"true duplicates (same CVE ID in NVD and a benchmark): {len(same_scores)}")
    print("  quantiles 0/5/25/50%: " + ", ".join(f"{np.quantile(same_scores, q):.3f}" for q in (0, .05, .25, .5)))
    print(f"different CVE (best item with another CVE ID, per NVD description): {len(other_scores):,}")
    print("  quantiles 50/90/99/99.9/100%: "
          + ", ".join(f"{np.quantile(other_scores, q):.3f}" for q in (.5, .9, .99, .999, 1.0)))
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.8):
        print(f"  threshold {threshold}: finds {np.mean(same_scores >= threshold):.1%} of true duplicates, "
              f"flags {np.sum(other_scores >= threshold):,} descriptions against another CVE's item "
              f"({np.mean(other_scores >= threshold):.2%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--threshold-study", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run_build(args.data, args.out or Path(scratch) / "corpus")
    if args.threshold_study:
        threshold_study(args.data)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
