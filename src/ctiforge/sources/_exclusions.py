"""Collect the CVE IDs and descriptions of benchmark files, to keep them out of training."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ctiforge.errors import DataFormatError

_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_PROMPT_MARKER = "CVE Description:"


@dataclass
class Exclusions:
    """CVE IDs and description texts that a training run must not see."""

    ids: set[str] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def read_exclusions(paths: list[str | Path]) -> Exclusions:
    """Read CTIBench-style TSV files and collect the CVE IDs and descriptions they test.

    The CVE ID comes from the `URL` column (CTIBench keeps it only there). The
    text comes from the `Description` column, or else from the part of the
    `Prompt` column after "CVE Description:". Raises `DataFormatError` for a
    missing file or a file with neither a `URL` nor a text column.
    """
    result = Exclusions()
    # Benchmark prompts can exceed the csv module's default field limit.
    csv.field_size_limit(2**31 - 1)
    for path in map(Path, paths):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataFormatError(f"{path}: cannot read the exclusion file ({exc.strerror})") from exc
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"{path}: not valid UTF-8 at byte {exc.start}; save it as UTF-8") from exc
        delimiter = "," if path.suffix.lower() == ".csv" else "\t"
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        columns = list(reader.fieldnames or [])
        has_text = "Description" in columns or "Prompt" in columns
        if "URL" not in columns and not has_text:
            raise DataFormatError(
                f"{path}: no 'URL', 'Description' or 'Prompt' column (columns found: {', '.join(columns) or 'none'}); "
                "pass a CTIBench TSV file"
            )
        for row in reader:
            for match in _CVE_ID.findall(row.get("URL") or ""):
                result.ids.add(match.upper())
            description = (row.get("Description") or "").strip()
            if not description:
                prompt = row.get("Prompt") or ""
                if _PROMPT_MARKER in prompt:
                    description = prompt.split(_PROMPT_MARKER, 1)[1].strip()
            if description:
                result.texts.append(description)
        result.files.append(str(path))
    return result
