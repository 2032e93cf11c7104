"""The record of one CWE catalog entry (weakness, category or view)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

EntryKind = Literal["weakness", "category", "view"]


@dataclass(frozen=True)
class CweEntry:
    """One weakness, category or view of MITRE's CWE catalog, as plain text.

    Relations are stored per view ID: `parents[1000]` lists the entry's
    `ChildOf` targets in the Research Concepts view, `parents[699]` the
    categories of the Software Development view that list it as a member.
    A category's `Has_Member` links and a view's members appear as
    `children` of the category or view and as `parents` of the member, so a
    direct member of a view has the view's own ID among its parents.
    """

    id: str
    number: int
    name: str
    kind: EntryKind
    abstraction: str | None
    structure: str | None
    status: str
    description: str
    extended_description: str = ""
    replaced_by: list[str] = field(default_factory=list)
    parents: dict[int, list[str]] = field(default_factory=dict)
    children: dict[int, list[str]] = field(default_factory=dict)
    in_nvd_view: bool = False
    mapping_usage: str | None = None
    mapping_rationale: str | None = None
    observed_examples: list[str] = field(default_factory=list)
    related_capec: list[str] = field(default_factory=list)
    mitigations: list[str] = field(default_factory=list)
    consequences: list[str] = field(default_factory=list)
    alternate_terms: list[str] = field(default_factory=list)

    # The dataclass fields hold lists, so hash by the unique ID instead.
    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def deprecated(self) -> bool:
        """Whether MITRE marked the entry Deprecated."""
        return self.status == "Deprecated"

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready data (view IDs become string keys in JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CweEntry:
        """Build an entry from `to_dict` output, including one that went through JSON.

        Raises:
            TypeError: a field is missing or unknown.
        """
        values = dict(data)
        values["parents"] = {int(view): list(ids) for view, ids in data.get("parents", {}).items()}
        values["children"] = {int(view): list(ids) for view, ids in data.get("children", {}).items()}
        if values.keys() != _FIELD_NAMES:
            missing = sorted(_FIELD_NAMES - values.keys())
            unknown = sorted(values.keys() - _FIELD_NAMES)
            raise TypeError(f"CweEntry data has missing fields {missing} or unknown fields {unknown}")
        # The frozen dataclass __init__ calls object.__setattr__ per field,
        # which takes most of the cache load time. Filling __dict__ gives an
        # equal object, because the check above ensures every field is present.
        entry = object.__new__(cls)
        entry.__dict__.update(values)
        return entry


@dataclass(frozen=True)
class ParsedCatalog:
    """The entries of one CWE XML file and the release it declares."""

    version: str
    date: str | None
    entries: list[CweEntry]


_FIELD_NAMES = frozenset(item.name for item in fields(CweEntry))
