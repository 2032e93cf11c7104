"""`read_records`: one entry point for every supported input format.

Readers stream their input, so a yearly NVD feed or a large CSV never sits in
memory whole. A bad record becomes a `SkippedRecord` and reading goes on; only
a file that cannot be read at all raises `DataFormatError`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ctiforge.errors import ConfigError, DataFormatError
from ctiforge.sources._extract import classify, extract, finish_text
from ctiforge.sources._jsonstream import JsonDocument, JsonSyntaxError, iter_json_items
from ctiforge.sources._records import FORMATS, CveRecord, SkippedRecord, merge_labels, normalise_cwe

logger = logging.getLogger(__name__)

Record = CveRecord | SkippedRecord

DEFAULT_MAX_CHARS = 100_000
TEXT_MODES = ("lines", "paragraphs")
JSON_FORMATS = ("nvd-json-1.1", "nvd-api-2.0", "cve-json-5")
# Column or field names tried, case-insensitively, when the caller names none.
TEXT_COLUMNS = ("description", "text", "summary")
ID_COLUMNS = ("cve_id", "cve", "id")
LABEL_COLUMNS = ("cwe", "cwes", "cwe_id")

_STREAMED_KEYS = ("CVE_Items", "vulnerabilities")
_HEAD_BYTES = 1 << 16
_CVE_ID_IN_TEXT = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv", ".txt": "text", ".text": "text",
}


class RecordStream(Iterator[Record]):
    """An iterator over the records of one input.

    `format` is the detected or requested format; for JSON input it is known
    once the first record has been read. `total` is the number of records that
    the input declares (an NVD feed header, an API 2.0 page size or the number
    of files in a folder), or None.
    """

    def __init__(self, records: Iterator[Record] | None = None) -> None:
        self.format: str | None = None
        self.total: int | None = None
        self._records = records
        self._ahead: list[Record] = []

    def __next__(self) -> Record:
        if self._ahead:
            return self._ahead.pop()
        assert self._records is not None
        return next(self._records)

    def read_ahead(self) -> None:
        """Read the first record now, so that a file-level `DataFormatError` raises here."""
        if self._ahead:
            return
        assert self._records is not None
        first = next(self._records, None)
        if first is not None:
            self._ahead.append(first)

    def __iter__(self) -> RecordStream:
        return self


def read_records(
    path: str | Path,
    *,
    format: str | None = None,
    text_column: str | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
    text_mode: str = "lines",
    max_chars: int = DEFAULT_MAX_CHARS,
) -> RecordStream:
    """Read CVE descriptions from a file, a folder of JSON records, or "-" for stdin.

    Yields a `CveRecord` for each usable description and a `SkippedRecord` for
    each record that is rejected, empty, not English, not UTF-8 or malformed.
    `format` is one of `FORMATS`, or None to detect it. `text_column`,
    `id_column` and `label_column` name the CSV columns or JSONL fields that
    hold the description, the CVE ID and CWE labels. `text_mode` chooses one
    description per line ("lines") or per blank-line-separated paragraph
    ("paragraphs") for plain text. Descriptions longer than `max_chars`
    characters are cut and flagged `truncated`.

    Raises `DataFormatError` naming the file when it is missing, unreadable, of
    an unknown format, or a CSV without the named column. The error is raised
    when iteration reaches the problem, after the records before it.
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(f"unknown input format '{format}'; use one of: {', '.join(FORMATS)}")
    if text_mode not in TEXT_MODES:
        raise ConfigError(f"unknown text mode '{text_mode}'; use 'lines' or 'paragraphs'")
    if max_chars < 1:
        raise ConfigError(f"max_chars must be at least 1, got {max_chars}")

    stream = RecordStream()
    options = _Options(format, text_column, id_column, label_column, text_mode, max_chars)
    if str(path) == "-":
        stream._records = _read_stdin(stream, options)
        return stream
    path = Path(path)
    if path.is_dir():
        stream._records = _read_folder(stream, path, options)
        return stream
    _check_readable(path)
    stream._records = _read_file(stream, path, path.name, options)
    return stream


def detect_format(path: str | Path) -> str:
    """Return the format of a file (one of `FORMATS`) by its name and first bytes.

    A folder counts as "cve-json-5" when its JSON records are CVE JSON 5 (or as
    the format of its first JSON file). Raises `DataFormatError` for a missing
    or unreadable file and for JSON that is neither NVD nor CVE JSON 5.
    """
    path = Path(path)
    if path.is_dir():
        files = _folder_files(path)
        return detect_format(files[0])
    _check_readable(path)
    with _open_binary(path) as raw:
        stream, head = _with_head(raw, str(path))
        kind = _sniff(path.name, head)
        if kind != "json":
            return kind
        item = next(iter_json_items(stream, array_keys=_STREAMED_KEYS), None)
    if item is None:
        raise DataFormatError(f"{path}: the JSON file contains no records")
    fmt = classify(item.value)
    if fmt is None:
        raise DataFormatError(_not_a_cve_file(str(path), item.value))
    return fmt


class _Options:
    def __init__(self, format: str | None, text_column: str | None, id_column: str | None,
                 label_column: str | None, text_mode: str, max_chars: int) -> None:
        self.format = format
        self.text_column = text_column
        self.id_column = id_column
        self.label_column = label_column
        self.text_mode = text_mode
        self.max_chars = max_chars


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DataFormatError(f"{path}: file not found; check the path")
    if not path.is_file():
        raise DataFormatError(f"{path}: not a regular file")


def _open_binary(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot open the file ({exc.strerror}); check its permissions") from exc


class _PrefixedRaw(io.RawIOBase):
    """A byte stream that replays bytes already read before reading on."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _with_head(raw: IO[bytes], name: str) -> tuple[IO[bytes], bytes]:
    """Return a stream of the (decompressed) content and its first bytes for sniffing."""
    head = raw.read(_HEAD_BYTES)
    stream: IO[bytes] = io.BufferedReader(_PrefixedRaw(head, raw))
    if head[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
        try:
            head = stream.read(_HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFormatError(f"{name}: the gzip data is corrupt ({exc})") from exc
        stream = io.BufferedReader(_PrefixedRaw(head, stream))
    return stream, head


def _sniff(name: str, head: bytes) -> str:
    """Guess "json", "jsonl", "csv" or "text" from the file name and the first bytes."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataFormatError(f"{name}: the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in head:
        raise DataFormatError(f"{name}: the file is binary, not text, JSON or CSV")
    lowered = name.lower().removesuffix(".gz")
    suffix = Path(lowered).suffix
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix == ".json" or stripped[:1] == b"[":
        return "json"
    if stripped[:1] == b"{":
        first_line, _, rest = stripped.partition(b"\n")
        try:
            json.loads(first_line)
        except ValueError:
            return "json"
        return "jsonl" if rest.strip() else "json"
    return "text"


def _resolve_kind(name: str, head: bytes, options: _Options) -> str:
    if options.format in JSON_FORMATS:
        return "json"
    if options.format is not None:
        return options.format
    kind = _sniff(name, head)
    if kind == "text" and options.text_column is not None:
        # A named column only makes sense for tabular input.
        return "csv"
    return kind


def _read_stdin(stream: RecordStream, options: _Options) -> Iterator[Record]:
    try:
        yield from _read_binary(stream, sys.stdin.buffer, "<stdin>", options)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"<stdin>: reading failed ({exc})") from exc


def _read_file(stream: RecordStream, path: Path, name: str, options: _Options) -> Iterator[Record]:
    with _open_binary(path) as raw:
        try:
            yield from _read_binary(stream, raw, name, options)
        except (OSError, EOFError, zlib.error) as exc:
            # A truncated or corrupt gzip file fails here, after the records before the damage.
            raise DataFormatError(f"{path}: reading failed ({exc}); re-download or re-create the file") from exc


def _read_binary(stream: RecordStream, raw: IO[bytes], name: str, options: _Options) -> Iterator[Record]:
    content, head = _with_head(raw, name)
    kind = _resolve_kind(name, head, options)
    stream.format = None if kind == "json" else kind
    if kind == "json":
        yield from _read_json(stream, content, name, options)
    elif kind == "jsonl":
        yield from _read_jsonl(content, name, options)
    elif kind == "csv":
        yield from _read_csv(content, head, name, options)
    else:
        yield from _read_text(content, name, options)


def _folder_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith((".json", ".json.gz")))
    if not files:
        raise DataFormatError(f"{folder}: the folder contains no .json or .json.gz files")
    return files


def _read_folder(stream: RecordStream, folder: Path, options: _Options) -> Iterator[Record]:
    files = _folder_files(folder)
    stream.total = len(files)
    for path in files:
        name = str(path.relative_to(folder))
        inner = RecordStream()
        try:
            for record in _read_file(inner, path, name, options):
                yield record
        except DataFormatError as exc:
            # One broken file in a folder of records must not stop the others.
            yield SkippedRecord(name, "", None, str(exc).removeprefix(f"{path}: ").removeprefix(f"{name}: "), "unreadable")
        if stream.format is None:
            stream.format = inner.format


def _not_a_cve_file(name: str, value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:8]) or "none"
        found = f"top-level keys: {keys}"
    else:
        found = f"its first element is a JSON {type(value).__name__}"
    return (
        f"{name}: the JSON is neither an NVD feed (JSON 1.1), an NVD API 2.0 response or record, "
        f"nor a CVE JSON 5 record ({found}); pass a supported file"
    )


def _declared_total(document: JsonDocument) -> int | None:
    header = document.header
    try:
        if "CVE_data_numberOfCVEs" in header:
            return int(header["CVE_data_numberOfCVEs"])
        if "resultsPerPage" in header and "totalResults" in header:
            remaining = int(header["totalResults"]) - int(header.get("startIndex", 0))
            return max(0, min(int(header["resultsPerPage"]), remaining))
    except (TypeError, ValueError):
        return None
    return None


def _read_json(stream: RecordStream, content: IO[bytes], name: str, options: _Options) -> Iterator[Record]:
    document = JsonDocument()
    first = True
    try:
        for item in iter_json_items(content, array_keys=_STREAMED_KEYS, document=document):
            fmt = classify(item.value)
            if first:
                first = False
                if fmt is None:
                    raise DataFormatError(_not_a_cve_file(name, item.value))
                if options.format is not None and fmt != options.format:
                    raise DataFormatError(
                        f"{name}: the file contains {fmt} records, not {options.format}; "
                        f"pass --format {fmt} or leave --format out"
                    )
                stream.format = fmt
                stream.total = _declared_total(document) if item.container != "document" else 1
            if item.container == "document":
                locator = _peek_id(item.value) or "record"
            else:
                locator = f"item {item.index + 1}"
            if fmt is None:
                yield SkippedRecord(name, locator, None, "not an NVD or CVE JSON 5 record", "unsupported")
                continue
            yield _safe_extract(fmt, item.value, name, locator, options.max_chars)
    except JsonSyntaxError as exc:
        raise DataFormatError(f"{name}: invalid JSON: {exc}; fix or re-download the file") from exc
    if first:
        logger.warning("%s: the JSON file contains no records", name)


def _peek_id(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    for candidate in (value.get("cveMetadata", {}).get("cveId") if isinstance(value.get("cveMetadata"), dict) else None,
                      value.get("id")):
        if isinstance(candidate, str) and _CVE_ID_IN_TEXT.fullmatch(candidate):
            return candidate
    return None


def _safe_extract(fmt: str, value: Any, name: str, locator: str, max_chars: int) -> Record:
    try:
        return extract(fmt, value, source=name, locator=locator, max_chars=max_chars)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        # A field of an unexpected JSON type: skip this record, keep the rest.
        return SkippedRecord(name, locator, _peek_id(value), f"malformed {fmt} record ({type(exc).__name__}: {exc})", "invalid-json")


def _text_lines(content: IO[bytes]) -> Iterator[tuple[int, str]]:
    text = io.TextIOWrapper(content, encoding="utf-8", errors="surrogateescape", newline=None)
    for number, line in enumerate(text, start=1):
        if number == 1:
            line = line.removeprefix("\ufeff")
        yield number, line.rstrip("\n")


def _read_text(content: IO[bytes], name: str, options: _Options) -> Iterator[Record]:
    if options.text_mode == "lines":
        for number, line in _text_lines(content):
            # Blank lines separate descriptions and are not records.
            if line.strip():
                yield text_record(line, source=name, locator=f"line {number}", max_chars=options.max_chars)
        return

    paragraph: list[str] = []
    start = 0
    for number, line in _text_lines(content):
        if line.strip():
            if not paragraph:
                start = number
            paragraph.append(line.strip())
        elif paragraph:
            yield text_record(" ".join(paragraph), source=name, locator=f"line {start}", max_chars=options.max_chars)
            paragraph = []
    if paragraph:
        yield text_record(" ".join(paragraph), source=name, locator=f"line {start}", max_chars=options.max_chars)


def text_record(
    text: str, *, source: str = "argument", locator: str = "1", cve_id: str | None = None,
    cwes: list[str] | None = None, max_chars: int = DEFAULT_MAX_CHARS,
) -> Record:
    """Build a record from one description, applying the readers' checks and truncation.

    `cwes` are labels that came with the text; they are normalised and get the
    source "input".
    """
    finished = finish_text(text, source=source, locator=locator, cve_id=cve_id, max_chars=max_chars)
    if isinstance(finished, SkippedRecord):
        return finished
    description, truncated = finished
    labels = [(label, "input") for label in (normalise_cwe(c) for c in cwes or []) if label]
    found_cwes, sources = merge_labels(labels)
    return CveRecord(source=source, locator=locator, cve_id=cve_id, description=description,
                     cwes=found_cwes, cwe_sources=sources, truncated=truncated)


def _find_column(names: list[str], requested: str | None, defaults: tuple[str, ...]) -> str | None:
    if requested is not None:
        return requested if requested in names else None
    lowered = {n.lower().strip(): n for n in names}
    for candidate in defaults:
        if candidate in lowered:
            return lowered[candidate]
    return None


def _missing_column(name: str, entry_kind: str, requested: str | None, found: list[str], flag: str) -> DataFormatError:
    # `requested` is None only for the text column, which falls back to TEXT_COLUMNS.
    expected = f"'{requested}'" if requested else " / ".join(f"'{c}'" for c in TEXT_COLUMNS)
    listing = ", ".join(repr(c) for c in found) or "none"
    return DataFormatError(f"{name}: no {entry_kind} {expected}; {entry_kind}s found: {listing}; pass {flag} with one of them")


def _cve_id_from(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = _CVE_ID_IN_TEXT.search(value)
    return match.group().upper() if match else (value.strip() or None)


def _labels_from(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [part for part in re.split(r"[,;|\s]+", value) if part]
    return []


def _read_csv(content: IO[bytes], head: bytes, name: str, options: _Options) -> Iterator[Record]:
    # Descriptions can be far longer than the csv module's default 128 KiB field limit.
    csv.field_size_limit(2**31 - 1)
    text = io.TextIOWrapper(content, encoding="utf-8-sig", errors="surrogateescape", newline="")
    first_line = head.split(b"\n", 1)[0]
    is_tsv = name.lower().removesuffix(".gz").endswith(".tsv")
    delimiter = "\t" if is_tsv or first_line.count(b"\t") > first_line.count(b",") else ","
    reader = csv.DictReader(text, delimiter=delimiter)
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    if not columns:
        raise DataFormatError(f"{name}: the CSV file has no header row; add one that names the text column")
    text_col = _find_column(columns, options.text_column, TEXT_COLUMNS)
    if text_col is None:
        raise _missing_column(name, "column", options.text_column, columns, "--text-column")
    id_col = _find_column(columns, options.id_column, ID_COLUMNS)
    if options.id_column is not None and id_col is None:
        raise _missing_column(name, "column", options.id_column, columns, "--id-column")
    label_col = _find_column(columns, options.label_column, LABEL_COLUMNS)
    if options.label_column is not None and label_col is None:
        raise _missing_column(name, "column", options.label_column, columns, "--label-column")

    line = reader.line_num + 1
    for row in reader:
        locator = f"line {line}"
        line = reader.line_num + 1
        cve_id = _cve_id_from(row.get(id_col)) if id_col else None
        value = row.get(text_col)
        if value is None:
            yield SkippedRecord(name, locator, cve_id, f"the row has no value in column '{text_col}'", "missing-field")
            continue
        cwes = _labels_from(row.get(label_col)) if label_col else []
        yield text_record(value, source=name, locator=locator, cve_id=cve_id, cwes=cwes, max_chars=options.max_chars)


def _read_jsonl(content: IO[bytes], name: str, options: _Options) -> Iterator[Record]:
    checked_fields = False
    for number, line in _text_lines(content):
        if not line.strip():
            continue
        locator = f"line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield SkippedRecord(name, locator, None, f"invalid JSON ({exc.msg} at column {exc.colno})", "invalid-json")
            continue
        if not isinstance(value, dict):
            yield SkippedRecord(name, locator, None, f"expected a JSON object, found a {type(value).__name__}", "invalid-json")
            continue

        fmt = classify(value) if options.text_column is None else None
        if fmt is not None:
            yield _safe_extract(fmt, value, name, locator, options.max_chars)
            continue

        fields = list(value)
        text_key = _find_column(fields, options.text_column, TEXT_COLUMNS)
        if text_key is None and not checked_fields:
            # The first object decides whether the file has the text field at all.
            raise _missing_column(name, "field", options.text_column, fields, "--text-column")
        checked_fields = True
        id_key = _find_column(fields, options.id_column, ID_COLUMNS)
        cve_id = _cve_id_from(value.get(id_key)) if id_key else None
        if text_key is None:
            expected = options.text_column or TEXT_COLUMNS[0]
            yield SkippedRecord(name, locator, cve_id, f"no '{expected}' field", "missing-field")
            continue
        text = value[text_key]
        if not isinstance(text, str):
            yield SkippedRecord(name, locator, cve_id, f"field '{text_key}' is a {type(text).__name__}, not a string", "invalid-json")
            continue
        label_key = _find_column(fields, options.label_column, LABEL_COLUMNS)
        cwes = _labels_from(value.get(label_key)) if label_key else []
        yield text_record(text, source=name, locator=locator, cve_id=cve_id, cwes=cwes, max_chars=options.max_chars)
