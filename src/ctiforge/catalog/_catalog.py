"""The `Catalog` of CWE entries and `load_catalog`, which memoises one per file."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from ctiforge.catalog._cache import load_parsed
from ctiforge.catalog._entry import CweEntry
from ctiforge.catalog._ids import NVD_NOINFO, NVD_OTHER, is_nvd_label, normalize_cwe_id, parse_cwe_id
from ctiforge.catalog._search import SearchIndex
from ctiforge.catalog._views import RESEARCH_VIEW_ID, view_member_ids
from ctiforge.errors import UnknownIdError

logger = logging.getLogger(__name__)

SHIPPED_CATALOG = Path(__file__).resolve().parent.parent / "data" / "cwe" / "cwec_v4.14.xml.zip"

_NVD_LABEL_MEANING = {
    NVD_OTHER: "NVD assigns it when no CWE entry in view 1003 fits",
    NVD_NOINFO: "NVD assigns it when the record has too little information to pick a CWE",
}


class Catalog:
    """All entries of one CWE release, with lookups by ID, view walks and search."""

    def __init__(self, entries: list[CweEntry], *, version: str, date: str | None = None,
                 source: Path | None = None, sha256: str = "") -> None:
        self.version = version
        self.date = date
        self.source = source
        self.sha256 = sha256
        self.entries: dict[str, CweEntry] = {entry.id: entry for entry in entries}
        self._view_members: dict[int, list[str]] = {}
        self._search_index: SearchIndex | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Catalog(version={self.version!r}, entries={len(self.entries)}, source={str(self.source)!r})"

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[CweEntry]:
        return iter(self.entries.values())

    def __contains__(self, cwe_id: object) -> bool:
        if not isinstance(cwe_id, (str, int)):
            return False
        canonical = parse_cwe_id(cwe_id)
        return canonical is not None and canonical in self.entries

    def find(self, cwe_id: str | int) -> CweEntry | None:
        """Return the entry for an ID in any accepted form, or None if it is not in the catalog."""
        canonical = parse_cwe_id(cwe_id)
        return self.entries.get(canonical) if canonical else None

    def get(self, cwe_id: str | int) -> CweEntry:
        """Return the entry for an ID in any accepted form.

        Raises:
            UnknownIdError: the text is not a CWE ID, is one of NVD's labels
                (which are not catalog entries), or the catalog has no such
                entry. The message suggests IDs one digit away, if any exist.
        """
        canonical = normalize_cwe_id(cwe_id)
        if is_nvd_label(canonical):
            raise UnknownIdError(
                f"{canonical} is an NVD label, not an entry of the CWE catalog: "
                f"{_NVD_LABEL_MEANING[canonical]}"
            )
        entry = self.entries.get(canonical)
        if entry is None:
            raise UnknownIdError(self._unknown_message(canonical))
        return entry

    def _unknown_message(self, canonical: str) -> str:
        message = f"{canonical} is not in the CWE {self.version} catalog"
        suggestions = self.suggest(canonical)
        if suggestions:
            names = ", ".join(f"{cwe_id} ({self.entries[cwe_id].name})" for cwe_id in suggestions)
            return f"{message}; did you mean {names}?"
        return f"{message}; check the number, or find the entry with: ctiforge cwe search WORDS"

    def suggest(self, cwe_id: str, *, limit: int = 3) -> list[str]:
        """Return catalog IDs one digit edit away from `cwe_id`, current entries first."""
        digits = cwe_id[4:] if cwe_id.upper().startswith("CWE-") else cwe_id
        if not digits.isdigit():
            return []
        candidates: list[str] = []
        for variant in _one_edit_away(digits):
            candidate = f"CWE-{int(variant)}" if variant and variant.lstrip("0") else None
            if candidate and candidate in self.entries and candidate not in candidates and candidate != cwe_id:
                candidates.append(candidate)
        candidates.sort(key=lambda found: (self.entries[found].deprecated, self.entries[found].number))
        return candidates[:limit]

    def view_members(self, view_id: int) -> list[str]:
        """Return the IDs of a view's members, in CWE number order (view 1003: 130 IDs).

        Members are the entries linked by the view's relations. Views that
        MITRE defines by a filter ("Implicit" views) have no listed members.

        Raises:
            UnknownIdError: no view with this ID is in the catalog.
        """
        view = self.get(view_id)
        if view.kind != "view":
            raise UnknownIdError(f"{view.id} is a {view.kind}, not a view; pass a view ID such as 1003 or 1000")
        with self._lock:
            members = self._view_members.get(view.number)
            if members is None:
                found = view_member_ids(self.entries.values(), view.number)
                members = sorted(found, key=lambda cwe_id: self.entries[cwe_id].number)
                self._view_members[view.number] = members
        return list(members)

    def search(self, query: str, *, limit: int = 10) -> list[tuple[CweEntry, float]]:
        """Return up to `limit` (entry, score) pairs ranked by name and description, best first.

        An ID in the query ("CWE-787", "787") puts that entry first. Scores
        are only comparable within one query. Deprecated entries rank lower.
        """
        with self._lock:
            if self._search_index is None:
                self._search_index = SearchIndex(list(self.entries.values()))
            index = self._search_index
        results = index.search(query, limit=limit)
        exact = self.find(query.strip()) if query.strip() else None
        if exact is not None and limit >= 1:
            top = max((score for _, score in results), default=1.0)
            results = [(exact, top)] + [(entry, score) for entry, score in results if entry.id != exact.id]
            results = results[:limit]
        return results

    def resolve_deprecated(self, cwe_id: str | int) -> list[str]:
        """Return the current entries that replace a deprecated entry, following chains.

        The replacements come from MITRE's deprecation text, so an entry whose
        text names no successor returns []. An entry that is not deprecated
        also returns [].
        """
        entry = self.get(cwe_id)
        if not entry.deprecated:
            return []
        resolved: list[str] = []
        pending = deque(entry.replaced_by)
        seen = {entry.id}
        while pending:
            candidate = pending.popleft()
            if candidate in seen:
                continue
            seen.add(candidate)
            target = self.entries.get(candidate)
            if target is None:
                continue
            if target.deprecated:
                pending.extend(target.replaced_by)
            else:
                resolved.append(candidate)
        return resolved

    def ancestors(self, cwe_id: str | int, view_id: int = RESEARCH_VIEW_ID) -> list[str]:
        """Return the ancestors of an entry in one view, nearest first (breadth-first).

        Primary parents are visited before the others. The view itself is not
        an ancestor, and an entry outside the view has none.
        """
        entry = self.get(cwe_id)
        view_own_id = f"CWE-{view_id}"
        found: list[str] = []
        seen = {entry.id}
        pending = deque(entry.parents.get(view_id, []))
        while pending:
            candidate = pending.popleft()
            if candidate in seen or candidate == view_own_id:
                continue
            seen.add(candidate)
            found.append(candidate)
            pending.extend(self.entries[candidate].parents.get(view_id, []))
        return found

    def nvd_ancestor(self, cwe_id: str | int) -> str | None:
        """Return the entry itself if it is in view 1003, else its nearest view-1000 ancestor there.

        NVD_OTHER and NVD_NOINFO are returned unchanged, since they are valid
        NVD labels. Returns None when no ancestor is in view 1003, as for
        categories and views, which have no view-1000 parents.
        """
        canonical = normalize_cwe_id(cwe_id)
        if is_nvd_label(canonical):
            return canonical
        entry = self.get(canonical)
        if entry.in_nvd_view:
            return entry.id
        for ancestor in self.ancestors(entry.id, RESEARCH_VIEW_ID):
            if self.entries[ancestor].in_nvd_view:
                return ancestor
        return None


def _one_edit_away(digits: str) -> list[str]:
    """Return the digit strings one insertion, deletion, substitution or adjacent swap away."""
    variants: list[str] = []
    for position in range(len(digits) + 1):
        head, tail = digits[:position], digits[position:]
        if tail:
            variants.append(head + tail[1:])
            variants.extend(head + digit + tail[1:] for digit in "0123456789" if digit != tail[0])
        if len(tail) > 1:
            variants.append(head + tail[1] + tail[0] + tail[2:])
        variants.extend(head + digit + tail for digit in "0123456789")
    return variants


_memo: dict[tuple[str, int, int], Catalog] = {}
_memo_lock = threading.Lock()


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load a CWE catalog: MITRE's XML or `.xml.zip` (any 4.x release), or the shipped 4.14 copy.

    The result is memoised per resolved path, and reloaded when the file's
    size or modification time changes. The parsed form is read from a
    prebuilt file beside the source or from `$CTIFORGE_HOME/catalog/` when
    one matches the file's sha256; otherwise the XML is parsed and cached.

    Raises:
        DataFormatError: the file is missing, damaged, hostile or not a CWE catalog.
    """
    source = SHIPPED_CATALOG if path is None else Path(path).expanduser()
    resolved = source.resolve()
    try:
        stat = resolved.stat()
        key = (str(resolved), stat.st_size, stat.st_mtime_ns)
    except OSError:
        key = None

    if key is not None:
        with _memo_lock:
            cached = _memo.get(key)
        if cached is not None:
            return cached

    parsed, sha256 = load_parsed(resolved)
    catalog = Catalog(parsed.entries, version=parsed.version, date=parsed.date, source=resolved, sha256=sha256)
    logger.debug("loaded %r", catalog)
    if key is not None:
        with _memo_lock:
            _memo[key] = catalog
    return catalog

