"""Input helpers shared by build_mapper.py and mapper_experiments.py."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from ctiforge.sources import CveRecord, SkippedRecord, read_exclusions, read_records

logger = logging.getLogger(__name__)

__all__ = ["read_exclusions", "read_nvd_feeds"]


def read_nvd_feeds(nvd_dir: Path, cache: Path | None = None) -> list[tuple[str, str, list[str]]]:
    """Return (CVE ID, description, labels) for every usable record of the NVD 1.1 feeds in `nvd_dir`.

    With `cache`, the records are written there as JSON lines on the first
    call and read back on later calls (the feeds take about a minute to parse).
    """
    if cache is not None and cache.is_file():
        with cache.open(encoding="utf-8") as handle:
            return [tuple(json.loads(line)) for line in handle]
    feeds = sorted(nvd_dir.glob("nvdcve-1.1-*.json*"))
    if not feeds:
        sys.exit(f"error: no nvdcve-1.1-*.json(.gz) feeds in {nvd_dir}; pass the folder of the NVD 1.1 feeds")
    records: list[tuple[str, str, list[str]]] = []
    skipped = 0
    for feed in feeds:
        for record in read_records(feed, format="nvd-json-1.1"):
            if isinstance(record, SkippedRecord):
                skipped += 1
            elif isinstance(record, CveRecord) and record.cve_id:
                records.append((record.cve_id, record.description, list(record.cwes)))
    logger.info("read %d records from %d feeds, skipped %d (rejected or unusable)", len(records), len(feeds), skipped)
    if cache is not None:
        with cache.open("w", encoding="utf-8") as handle:
            for item in records:
                handle.write(json.dumps(item) + "\n")
    return records
