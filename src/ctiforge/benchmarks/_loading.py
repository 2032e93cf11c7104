"""Reading CTIBench-style TSV files with input checks that name the file and row."""

from __future__ import annotations

import csv
import gzip
import io
import logging
import zlib
from pathlib import Path
from typing import Sequence

from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

# A cell longer than this is rejected. The longest CTIBench cell (a cti-taa
# threat report prompt) has about 29,000 characters. A model response of
# this size is a runaway generation, not an answer.
MAX_FIELD_CHARS = 262_144
GZIP_MAGIC = b"\x1f\x8b"


def read_text(path: Path, *, what: str) -> str:
    """Read a whole file as strict UTF-8, raising `DataFormatError` that names the file and line.

    A gzip-compressed file (magic bytes 1f 8b) is decompressed first, so line
    numbers in errors count lines of the decompressed text.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(f"{what} not found: {path}; check the path") from None
    except IsADirectoryError:
        raise DataFormatError(f"{what} {path} is a folder, expected a file") from None
    except OSError as exc:
        raise DataFormatError(f"cannot read {what} {path}: {exc.strerror}") from None
    if data[:2] == GZIP_MAGIC:
        # A gzip-compressed file is read as its decompressed content.
        try:
            data = gzip.decompress(data)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataFormatError(
                f"{path} is gzip-compressed but cannot be decompressed ({exc}); the file is truncated or damaged"
            ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(
            f"{path}: line {line} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save the file as UTF-8"
        ) from None
    # A UTF-8 byte order mark would otherwise become part of the first column name.
    return text.removeprefix("\ufeff")


def read_tsv(path: Path, *, required: Sequence[str], what: str) -> tuple[list[str], list[dict[str, str]]]:
    """Read a tab-separated file with a header row and return (columns, rows).

    Raise `DataFormatError` when a required column is missing (naming the missing
    and the found columns), when a row has more or fewer cells than the header,
    or when a cell exceeds `MAX_FIELD_CHARS`. Quoting follows the csv module's default
    (double quotes), which is how pandas writes and reads the CTIBench files.
    """
    text = read_text(path, what=what)
    if not text.strip():
        raise DataFormatError(f"{what} {path} is empty; expected a header row with columns {', '.join(required)}")

    previous_limit = csv.field_size_limit()
    # The csv module's own limit error carries no row number, so accept long
    # cells here and apply MAX_FIELD_CHARS below with a precise message.
    csv.field_size_limit(max(previous_limit, 64 * MAX_FIELD_CHARS))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
        try:
            header = next(reader)
        except StopIteration:
            header = []
        columns = [name.strip() for name in header]
        missing = [name for name in required if name not in columns]
        if missing:
            raise DataFormatError(
                f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(repr(c) for c in columns) or 'none'}; "
                f"a {what} needs the tab-separated columns {', '.join(required)}"
            )
        rows: list[dict[str, str]] = []
        for cells in reader:
            row_number = len(rows) + 1
            if not cells or (len(cells) == 1 and not cells[0].strip() and len(columns) > 1):
                # Blank lines (often a trailing newline) carry no row.
                continue
            if len(cells) > len(columns):
                raise DataFormatError(
                    f"{path}: row {row_number} (line {reader.line_num}) has {len(cells)} cells but the header has "
                    f"{len(columns)} columns; check for unquoted tabs in that row"
                )
            if len(cells) < len(columns):
                raise DataFormatError(
                    f"{path}: row {row_number} (line {reader.line_num}) has {len(cells)} cells but the header has "
                    f"{len(columns)} columns; check for a missing tab or a line break inside a cell of that row"
                )
            for column, cell in zip(columns, cells):
                if len(cell) > MAX_FIELD_CHARS:
                    raise DataFormatError(
                        f"{path}: row {row_number} (line {reader.line_num}), column {column!r} has {len(cell):,} "
                        f"characters, more than the limit of {MAX_FIELD_CHARS:,}; truncate or remove that value"
                    )
            rows.append(dict(zip(columns, cells)))
    except csv.Error as exc:
        raise DataFormatError(f"{path}: invalid TSV near line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(previous_limit)
    logger.debug("read %d rows from %s", len(rows), path)
    return columns, rows
