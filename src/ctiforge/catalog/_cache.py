"""Gzipped-JSON caches of parsed catalogs, so that most loads skip the XML parse.

Parsing the 15 MB XML takes one to several seconds, so a parsed catalog is
stored as gzipped JSON and found again by the sha256 of its source file. Two
places are checked, in order:

1. a prebuilt file beside the source, named `<source file name>.parsed.json.gz`
   (ctiforge ships one for its CWE 4.14 zip, so even the first call is fast);
2. `$CTIFORGE_HOME/catalog/cwe-<sha256>.json.gz`, written after a parse.

JSON is used instead of pickle because a cache file must never be able to run
code. A file that cannot be read, fails to decode, or records another source
hash or parser version is ignored, and the XML is parsed again.

Regenerate the shipped prebuilt file after changing the parser with:
    python -m ctiforge.catalog._prebuild
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

from ctiforge.catalog._entry import CweEntry, ParsedCatalog
from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

# Bump when the parser or CweEntry changes, so that older cache files are rebuilt.
PARSER_VERSION = 2


def ctiforge_home() -> Path:
    """Return the folder for ctiforge's caches: $CTIFORGE_HOME, or ~/.cache/ctiforge."""
    configured = os.environ.get("CTIFORGE_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "ctiforge"


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path(sha256: str) -> Path:
    """Return the cache file that stores the catalog parsed from a source with this hash."""
    return ctiforge_home() / "catalog" / f"cwe-{sha256}.json.gz"


def prebuilt_path(source: Path) -> Path:
    """Return where a prebuilt parsed form of `source` is looked for: beside it."""
    return source.with_name(f"{source.name}.parsed.json.gz")


def load_parsed(path: Path) -> tuple[ParsedCatalog, str]:
    """Return the parsed catalog of `path` and its sha256, from a cache file when one is valid.

    Raises:
        DataFormatError: the source file is missing, unreadable or not a CWE catalog.
    """
    # The XML parser is imported only when a parse is needed.
    if not path.is_file():
        from ctiforge.catalog._xml import parse_catalog_file

        # The parser raises the message for a missing path or a folder.
        return parse_catalog_file(path), ""

    try:
        sha256 = file_sha256(path)
    except OSError as exc:
        raise DataFormatError(
            f"CWE catalog file {path} could not be read ({exc.strerror or exc}); check its permissions"
        ) from exc

    for candidate in (prebuilt_path(path), cache_path(sha256)):
        cached = _read_cache(candidate, sha256)
        if cached is not None:
            return cached, sha256

    from ctiforge.catalog._xml import parse_catalog_file

    parsed = parse_catalog_file(path)
    _write_cache(cache_path(sha256), sha256, parsed)
    return parsed, sha256


def write_prebuilt(source: Path) -> Path:
    """Parse `source` and write its prebuilt parsed form beside it; return that file's path.

    Raises:
        DataFormatError: the source file is not a CWE catalog.
        OSError: the folder of `source` is not writable.
    """
    from ctiforge.catalog._xml import parse_catalog_file

    target = prebuilt_path(source)
    parsed = parse_catalog_file(source)
    _dump(target, file_sha256(source), parsed)
    return target


def _read_cache(cached_file: Path, sha256: str) -> ParsedCatalog | None:
    if not cached_file.exists():
        return None
    try:
        with gzip.open(cached_file, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("source_sha256") != sha256 or data.get("parser_version") != PARSER_VERSION:
            logger.info("ignoring CWE catalog cache %s: it was made from another source file or by "
                        "another parser version", cached_file)
            return None
        entries = [CweEntry.from_dict(item) for item in data["entries"]]
        return ParsedCatalog(version=data["version"], date=data.get("date"), entries=entries)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError,
            AttributeError) as exc:
        # gzip raises OSError (BadGzipFile) or EOFError, json raises ValueError,
        # and a file of the wrong shape raises KeyError, TypeError or AttributeError.
        logger.warning("ignoring unreadable CWE catalog cache %s (%s)", cached_file, exc)
        return None


def _write_cache(cached_file: Path, sha256: str, parsed: ParsedCatalog) -> None:
    try:
        _dump(cached_file, sha256, parsed)
    except OSError as exc:
        logger.warning("could not write the CWE catalog cache %s (%s); the next run parses the XML again",
                       cached_file, exc)


def _dump(target: Path, sha256: str, parsed: ParsedCatalog) -> None:
    payload: dict[str, Any] = {
        "source_sha256": sha256,
        "parser_version": PARSER_VERSION,
        "version": parsed.version,
        "date": parsed.date,
        "entries": [entry.to_dict() for entry in parsed.entries],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary file and rename it, so that a concurrent reader
    # never sees a half-written file.
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        # mtime=0 keeps the gzip bytes identical for identical content.
        with os.fdopen(descriptor, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
            packed.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

