"""Input readers: CVE descriptions and their CWE labels from every supported format.

`read_records` reads plain text, NVD JSON 1.1 feeds, NVD API 2.0 responses and
records, CVE JSON 5 records (single, list or folder), CSV and JSONL, and yields
`CveRecord` or `SkippedRecord` objects::

    from ctiforge.sources import read_records, CveRecord

    for record in read_records("nvdcve-1.1-2018.json.gz"):
        if isinstance(record, CveRecord):
            print(record.cve_id, record.cwes, record.description[:60])
"""

from ctiforge.sources._exclusions import Exclusions, read_exclusions
from ctiforge.sources._readers import (
    DEFAULT_MAX_CHARS,
    TEXT_MODES,
    RecordStream,
    detect_format,
    read_records,
    text_record,
)
from ctiforge.sources._records import (
    FORMATS,
    NVD_PLACEHOLDERS,
    CveRecord,
    SkippedRecord,
    find_cwes,
)

__all__ = [
    "DEFAULT_MAX_CHARS",
    "FORMATS",
    "NVD_PLACEHOLDERS",
    "TEXT_MODES",
    "CveRecord",
    "Exclusions",
    "RecordStream",
    "SkippedRecord",
    "detect_format",
    "find_cwes",
    "read_exclusions",
    "read_records",
    "text_record",
]
