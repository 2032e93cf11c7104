"""Safe parsing of MITRE's CWE XML (plain `.xml` or the `.xml.zip` MITRE distributes).

The parser is defusedxml's iterparse with DTDs forbidden. MITRE's CWE XML
declares no DTD (4.14 names an XSD schema instead), while every entity attack
(external entities, entity-expansion bombs) needs one. So a hostile file is
rejected at its DOCTYPE before any entity is expanded or any other file is
opened. Entries are processed and cleared one
at a time, so memory stays near the size of the parsed entries.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ErrorString

import defusedxml
import defusedxml.ElementTree

from ctiforge.catalog._entry import CweEntry, ParsedCatalog
from ctiforge.catalog._views import NVD_VIEW_ID, view_member_ids
from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

DOWNLOAD_HINT = "download the catalog again from https://cwe.mitre.org/data/downloads.html"
_NAMESPACE_PREFIX = "http://cwe.mitre.org/cwe-"
_ENTRY_KINDS = {"Weakness": "weakness", "Category": "category", "View": "view"}
_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "br", "table", "tr", "pre", "blockquote",
               "h1", "h2", "h3", "h4", "h5", "h6"}
_CWE_MENTION = re.compile(r"\bCWE-(\d+)\b")
_CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
_ZIP_MAGIC = b"PK\x03\x04"
_WHITESPACE = re.compile(r"\s+")


def parse_catalog_file(path: Path) -> ParsedCatalog:
    """Parse a CWE XML or `.xml.zip` file into entries with relations resolved.

    Raises:
        DataFormatError: the file is missing, not a zip or XML that can be read,
            declares a DTD, is not UTF-8, or is not a CWE catalog.
    """
    if not path.exists():
        raise DataFormatError(
            f"CWE catalog file not found: {path}; pass the path of MITRE's cwec_v4.x.xml or "
            f"cwec_v4.x.xml.zip, or omit the path to use the catalog shipped with ctiforge"
        )
    if not path.is_file():
        raise DataFormatError(f"CWE catalog path {path} is not a file; pass a cwec_v4.x.xml or .xml.zip file")

    try:
        return _parse_readable_file(path)
    except PermissionError as exc:
        raise DataFormatError(
            f"CWE catalog file {path} could not be read ({exc.strerror}); check its permissions"
        ) from exc


def _parse_readable_file(path: Path) -> ParsedCatalog:
    with _open_xml(path) as (stream, member):
        label = f"{path}!{member}" if member else str(path)
        try:
            header, records = _read_records(stream, label)
        except defusedxml.DefusedXmlException as exc:
            raise DataFormatError(
                f"{label} was rejected because it declares a DTD or entities ({type(exc).__name__}), "
                f"which MITRE's CWE XML does not use and which allow entity-expansion and "
                f"external-entity attacks; use an unmodified file from MITRE, or {DOWNLOAD_HINT}"
            ) from exc
        except ParseError as exc:
            raise DataFormatError(_describe_parse_error(path, member, label, exc)) from exc
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DataFormatError(
                f"{label} could not be decompressed ({exc}); the zip archive is truncated or "
                f"damaged: {DOWNLOAD_HINT}"
            ) from exc

    if not records:
        raise DataFormatError(f"{label} is a CWE catalog file without any entries; {DOWNLOAD_HINT}")
    seen: set[str] = set()
    for record in records:
        if record["id"] in seen:
            raise DataFormatError(f"{label} defines {record['id']} more than once; {DOWNLOAD_HINT}")
        seen.add(record["id"])
    entries = _link_records(records)
    logger.debug("parsed %d entries from %s (CWE %s)", len(entries), label, header["version"])
    return ParsedCatalog(version=header["version"], date=header["date"], entries=entries)


@contextmanager
def _open_xml(path: Path) -> Iterator[tuple[IO[bytes], str | None]]:
    """Yield a binary stream of the XML and, for a zip, the name of the member read."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != _ZIP_MAGIC and path.suffix.lower() != ".zip":
        with path.open("rb") as stream:
            yield stream, None
        return

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFormatError(
            f"{path} is not a readable zip archive ({exc}); the download is truncated or "
            f"damaged: {DOWNLOAD_HINT}"
        ) from exc
    with archive:
        member = _pick_member(path, archive)
        with archive.open(member) as stream:
            yield stream, member


def _pick_member(path: Path, archive: zipfile.ZipFile) -> str:
    xml_names = [name for name in archive.namelist() if name.lower().endswith(".xml")]
    if not xml_names:
        raise DataFormatError(
            f"{path} contains no .xml file; pass MITRE's cwec_v4.x.xml.zip, which contains "
            f"one cwec_v4.x.xml"
        )
    if len(xml_names) == 1:
        return xml_names[0]
    catalogs = [name for name in xml_names if re.fullmatch(r"(?:.*/)?cwec_v[\d.]+\.xml", name)]
    if len(catalogs) == 1:
        return catalogs[0]
    raise DataFormatError(
        f"{path} contains several XML files ({', '.join(xml_names[:5])}) and none or several "
        f"named cwec_v<version>.xml; extract the catalog and pass the .xml file"
    )


def _describe_parse_error(path: Path, member: str | None, label: str, exc: ParseError) -> str:
    """Explain an expat error: damaged zip data, bytes that are not UTF-8, or other malformed XML."""
    line, column = getattr(exc, "position", (0, 0))
    try:
        data = path.read_bytes() if member is None else _read_member(path, member)
    except (zipfile.BadZipFile, zlib.error, EOFError) as damage:
        # Zero-filled or altered deflate data can decompress to garbage, and
        # only the CRC check at the end of the member reveals it.
        return (
            f"{label} could not be decompressed ({damage}); the zip archive is truncated or "
            f"damaged: {DOWNLOAD_HINT}"
        )
    except OSError:
        data = b""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as invalid:
        return (
            f"{label} is not UTF-8 text (invalid byte at offset {invalid.start}); MITRE publishes "
            f"the CWE catalog as UTF-8 XML, so the file was damaged or re-encoded: {DOWNLOAD_HINT}"
        )
    content = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if content and not content.startswith(b"<"):
        # An XML document starts with a tag or declaration, so this is another kind of file, not a damaged catalog.
        start = content[:20].decode("utf-8", errors="replace")
        return (
            f"{label} is not a CWE catalog XML file (it starts with {start!r}, not with '<'): "
            f"pass MITRE's cwec_v4.x.xml or .xml.zip"
        )
    # str(exc) repeats the position, so the message is built from the expat error text alone.
    reason = ErrorString(exc.code) if isinstance(getattr(exc, "code", None), int) else str(exc)
    return (
        f"{label} is not well-formed XML (line {line}, column {column}: {reason}); the file is "
        f"truncated or damaged: {DOWNLOAD_HINT}"
    )


def _read_member(path: Path, member: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(member)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _read_records(stream: IO[bytes], label: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Stream the XML, check its root and turn each top-level entry into a record dict."""
    header: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    depth = 0
    events = defusedxml.ElementTree.iterparse(stream, events=("start", "end"), forbid_dtd=True)
    for event, element in events:
        if event == "start":
            depth += 1
            if depth == 1:
                header = _check_root(element, label)
            continue
        # Entries sit at depth 3: Weakness_Catalog > Weaknesses > Weakness.
        if depth == 3 and _local(element.tag) in _ENTRY_KINDS:
            records.append(_record(element, label))
            element.clear()
        depth -= 1
    return header, records


def _check_root(root: Element, label: str) -> dict[str, Any]:
    namespace, _, name = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if name != "Weakness_Catalog" or not namespace.startswith(_NAMESPACE_PREFIX):
        raise DataFormatError(
            f"{label} is XML but not a CWE catalog (root element <{name}> in namespace "
            f"{namespace or 'none'}, expected <Weakness_Catalog> in {_NAMESPACE_PREFIX}<n>); "
            f"pass MITRE's cwec_v4.x.xml or .xml.zip"
        )
    version = root.get("Version")
    if not version:
        raise DataFormatError(f"{label} has no Version attribute on <Weakness_Catalog>; {DOWNLOAD_HINT}")
    return {"version": version, "date": root.get("Date")}


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _descendants(element: Element, *path: str) -> list[Element]:
    """Return the elements at a path of local names below `element`."""
    current = [element]
    for name in path:
        current = [child for parent in current for child in _children(parent, name)]
    return current


def plain_text(element: Element | None) -> str:
    """Flatten an element that may hold XHTML markup into text, one line per block."""
    if element is None:
        return ""
    parts: list[str] = []
    _collect_text(element, parts)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _collect_text(element: Element, parts: list[str]) -> None:
    # Source line breaks are layout, not content: only block elements start a line.
    block = _local(element.tag) in _BLOCK_TAGS
    if block:
        parts.append("\n")
    if element.text:
        parts.append(_WHITESPACE.sub(" ", element.text))
    for child in element:
        _collect_text(child, parts)
        if child.tail:
            parts.append(_WHITESPACE.sub(" ", child.tail))
    if block:
        parts.append("\n")


def _text(element: Element, name: str) -> str:
    return plain_text(_child(element, name))


def _optional_text(element: Element | None, name: str) -> str | None:
    if element is None:
        return None
    return _text(element, name) or None


def _record(element: Element, label: str) -> dict[str, Any]:
    """Turn one Weakness, Category or View element into a record dict."""
    tag = _local(element.tag)
    raw_id = element.get("ID", "")
    if not raw_id.isdigit():
        raise DataFormatError(f"{label}: a <{tag}> element has an invalid ID {raw_id!r}; {DOWNLOAD_HINT}")
    number = int(raw_id)
    kind = _ENTRY_KINDS[tag]

    if kind == "weakness":
        description = _text(element, "Description")
        structure = element.get("Structure")
    elif kind == "category":
        description = _text(element, "Summary")
        structure = None
    else:
        description = _text(element, "Objective")
        structure = element.get("Type")

    mapping = _child(element, "Mapping_Notes")
    record: dict[str, Any] = {
        "id": f"CWE-{number}",
        "number": number,
        "name": element.get("Name", ""),
        "kind": kind,
        "abstraction": element.get("Abstraction"),
        "structure": structure,
        "status": element.get("Status", ""),
        "description": description,
        "extended_description": _text(element, "Extended_Description"),
        "mapping_usage": _optional_text(mapping, "Usage"),
        "mapping_rationale": _optional_text(mapping, "Rationale"),
        "observed_examples": _observed_examples(element),
        "related_capec": [
            f"CAPEC-{item.get('CAPEC_ID')}"
            for item in _descendants(element, "Related_Attack_Patterns", "Related_Attack_Pattern")
            if (item.get("CAPEC_ID") or "").isdigit()
        ],
        "mitigations": [
            text
            for item in _descendants(element, "Potential_Mitigations", "Mitigation")
            if (text := _text(item, "Description"))
        ],
        "consequences": [
            text for item in _descendants(element, "Common_Consequences", "Consequence")
            if (text := _consequence(item))
        ],
        "alternate_terms": [
            text
            for item in _descendants(element, "Alternate_Terms", "Alternate_Term")
            if (text := _text(item, "Term"))
        ],
        # Relations to resolve once every entry is known: (view ID, parent
        # number, primary) for ChildOf and (view ID, member number) for Has_Member.
        "_parent_links": _parent_links(element, kind),
        "_member_links": _member_links(element, kind),
    }
    return record


def _observed_examples(element: Element) -> list[str]:
    found: list[str] = []
    for item in _descendants(element, "Observed_Examples", "Observed_Example"):
        reference = _text(item, "Reference")
        if _CVE_ID.fullmatch(reference) and reference not in found:
            found.append(reference)
    return found


def _consequence(item: Element) -> str:
    scopes = [plain_text(scope) for scope in _children(item, "Scope")]
    impacts = [plain_text(impact) for impact in _children(item, "Impact")]
    if not scopes and not impacts:
        return ""
    return f"{', '.join(scopes)}: {'; '.join(impacts)}" if scopes else "; ".join(impacts)


def _parent_links(element: Element, kind: str) -> list[tuple[int, int, bool]]:
    """Return (view ID, parent number, primary) for each `ChildOf` relation of a weakness."""
    if kind != "weakness":
        return []
    links = []
    for item in _descendants(element, "Related_Weaknesses", "Related_Weakness"):
        if item.get("Nature") != "ChildOf":
            continue
        parent, view = item.get("CWE_ID", ""), item.get("View_ID", "")
        if parent.isdigit() and view.isdigit():
            links.append((int(view), int(parent), item.get("Ordinal") == "Primary"))
    return links


def _member_links(element: Element, kind: str) -> list[tuple[int, int]]:
    """Return (view ID, member number) for each `Has_Member` of a category or view."""
    if kind == "category":
        items = _descendants(element, "Relationships", "Has_Member")
    elif kind == "view":
        items = _descendants(element, "Members", "Has_Member")
    else:
        return []
    links = []
    for item in items:
        member, view = item.get("CWE_ID", ""), item.get("View_ID", "")
        if member.isdigit() and view.isdigit():
            links.append((int(view), int(member)))
    return links


def _link_records(records: list[dict[str, Any]]) -> list[CweEntry]:
    """Resolve parent/child relations, view 1003 membership and deprecation replacements."""
    by_id = {record["id"]: record for record in records}
    for record in records:
        record["parents"] = {}
        record["children"] = {}
    dangling = 0

    def link(view: int, parent_id: str, child_id: str) -> None:
        nonlocal dangling
        if parent_id not in by_id or child_id not in by_id:
            dangling += 1
            return
        parents = by_id[child_id]["parents"].setdefault(view, [])
        if parent_id not in parents:
            parents.append(parent_id)
        children = by_id[parent_id]["children"].setdefault(view, [])
        if child_id not in children:
            children.append(child_id)

    for record in records:
        # The primary parent goes first so that walks up the tree prefer it.
        parent_links = sorted(record.pop("_parent_links"), key=lambda relation: not relation[2])
        for view, parent, _primary in parent_links:
            link(view, f"CWE-{parent}", record["id"])
        for view, member in record.pop("_member_links"):
            link(view, record["id"], f"CWE-{member}")
    if dangling:
        logger.debug("skipped %d relations that name an ID missing from the catalog", dangling)

    nvd_members = view_member_ids(records, NVD_VIEW_ID)
    views = {record["id"] for record in records if record["kind"] == "view"}
    for record in records:
        record["in_nvd_view"] = record["id"] in nvd_members
        record["replaced_by"] = _replacements(record, by_id, views)
        record["parents"] = dict(sorted(record["parents"].items()))
        # Parents keep the primary-first order; children are listed by CWE number.
        record["children"] = {
            view: sorted(ids, key=lambda cwe_id: by_id[cwe_id]["number"])
            for view, ids in sorted(record["children"].items())
        }
    return [CweEntry(**record) for record in sorted(records, key=lambda record: record["number"])]


def _replacements(record: dict[str, Any], by_id: dict[str, dict[str, Any]], views: set[str]) -> list[str]:
    """Read the replacement IDs from the text of a deprecated entry.

    CWE 4.x has no structured field for this: MITRE writes it in the
    description, e.g. "All content has been transferred to CWE-170". Mentions
    of views (usually the view the entry used to organise), of the entry
    itself and of other deprecated entries are not replacements.
    """
    if record["status"] != "Deprecated":
        return []
    found: list[str] = []
    text = " ".join((record["description"], record["extended_description"]))
    for match in _CWE_MENTION.finditer(text):
        candidate = f"CWE-{int(match.group(1))}"
        target = by_id.get(candidate)
        if (
            target is None
            or candidate == record["id"]
            or candidate in views
            or target["status"] == "Deprecated"
            or candidate in found
        ):
            continue
        found.append(candidate)
    return found

