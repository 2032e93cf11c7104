"""Benchmark items that a corpus must not contain, read from CTIBench-style TSV files."""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_SOFTWARE_URL = re.compile(r"attack\.mitre\.org/software/(S\d{4})", re.IGNORECASE)

# Columns that contain the text to protect, in order of preference. The first
# one in the file's header is used; `Question` is the multiple-choice file's column.
_TEXT_COLUMNS = ("Description", "Question", "Text")


@dataclass(frozen=True)
class BenchmarkItem:
    """One benchmark row: its protected text and the identifiers that tie it to training data."""

    benchmark: str
    row: int
    text: str
    cve_id: str | None
    software_id: str | None
    gold: str


def benchmark_name(path: Path) -> str:
    """Return the benchmark's name: the file name without `.tsv` (`cti-rcm-2021`)."""
    name = path.name
    return name[: -len(".tsv")] if name.lower().endswith(".tsv") else path.stem


def read_benchmark(path: Path) -> list[BenchmarkItem]:
    """Read one benchmark TSV file into items.

    Quoting follows the csv module's default (double quotes), the way pandas
    reads the CTIBench files, so a description that starts with a quoted
    phrase loses those quotes exactly as it does for the benchmark's scorer.
    """
    try:
        text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except FileNotFoundError:
        raise DataFormatError(f"benchmark file not found: {path}; fix the path or remove it from the config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot read benchmark file {path}: {exc}; it must be a UTF-8 TSV file") from None

    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(previous_limit, 16 * 1024 * 1024))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")
        columns = [c.strip() for c in (reader.fieldnames or [])]
        text_column = next((c for c in _TEXT_COLUMNS if c in columns), None)
        if text_column is None:
            raise DataFormatError(
                f"benchmark file {path} has none of the columns {', '.join(_TEXT_COLUMNS)} "
                f"(found: {', '.join(columns) or 'no header'}); expected a CTIBench TSV file"
            )
        name = benchmark_name(path)
        items = []
        for row_number, row in enumerate(reader, start=1):
            row = {(k or "").strip(): (v or "") for k, v in row.items() if k is not None}
            url = row.get("URL", "")
            cve = CVE_ID.search(url)
            software = _SOFTWARE_URL.search(url)
            items.append(
                BenchmarkItem(
                    benchmark=name,
                    row=row_number,
                    text=row.get(text_column, ""),
                    cve_id=cve.group(0).upper() if cve else None,
                    software_id=software.group(1).upper() if software else None,
                    gold=row.get("GT", "").strip(),
                )
            )
    except csv.Error as exc:
        raise DataFormatError(f"benchmark file {path} is not a valid TSV file: {exc}") from None
    finally:
        csv.field_size_limit(previous_limit)
    logger.debug("read %d items from %s", len(items), path)
    return items
