"""Record types that the readers yield, and CWE label normalisation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ctiforge.catalog import NVD_NOINFO, NVD_OTHER, parse_cwe_id

FORMATS: tuple[str, ...] = ("text", "nvd-json-1.1", "nvd-api-2.0", "cve-json-5", "csv", "jsonl")

# NVD's two placeholder labels: "a CWE outside NVD's view" and "not enough information".
NVD_PLACEHOLDERS: tuple[str, ...] = (NVD_OTHER, NVD_NOINFO)

# Order in which label sources are trusted, most authoritative first. NVD's own
# analysis comes before the CNA's, and the CNA's before an ADP enrichment.
SOURCE_RANK: dict[str, int] = {"nvd": 0, "nvd-primary": 0, "nvd-secondary": 1, "cna": 2}
_ADP_RANK = 3
_OTHER_RANK = 4

_CWE_IN_TEXT = re.compile(r"\b(?:CWE[-_ ]?(\d{1,6})|(NVD-CWE-(?:Other|noinfo)))\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CveRecord:
    """One description read from an input, with the labels and metadata it carries.

    `cwes` and `cwe_sources` are parallel lists: `cwe_sources[i]` is the most
    authoritative source that gave `cwes[i]` ("nvd" for the NVD 1.1 feeds,
    "nvd-primary", "nvd-secondary", "cna", "adp:<shortName>" or
    "other:<source>"). `cwes` contains no duplicates and lists NVD's analysis first.
    """

    source: str
    locator: str
    cve_id: str | None
    description: str
    cwes: list[str] = field(default_factory=list)
    cwe_sources: list[str] = field(default_factory=list)
    cvss_v3_vector: str | None = None
    published: str | None = None
    state: str = "PUBLISHED"
    truncated: bool = False

    @property
    def specific_cwes(self) -> list[str]:
        """The labels that name a CWE entry, without NVD's placeholder labels."""
        return [cwe for cwe in self.cwes if cwe not in NVD_PLACEHOLDERS]

    @property
    def where(self) -> str:
        """The source, position and CVE ID as one phrase for messages."""
        return describe_position(self.source, self.locator, self.cve_id)


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record that the reader could not turn into a description, and why.

    `code` groups reasons for summaries: "empty", "not-utf8", "no-english",
    "rejected", "invalid-json", "missing-field", "unsupported" or "unreadable".
    """

    source: str
    locator: str
    cve_id: str | None
    reason: str
    code: str = "invalid"

    @property
    def where(self) -> str:
        """The source, position and CVE ID as one phrase for messages."""
        return describe_position(self.source, self.locator, self.cve_id)


def describe_position(source: str, locator: str, cve_id: str | None) -> str:
    """Join a source name, a position and an optional CVE ID for a message."""
    text = f"{source} {locator}".strip()
    if cve_id and cve_id != locator:
        text += f" ({cve_id})"
    return text


def normalise_cwe(value: str) -> str | None:
    """Return "CWE-<n>" or an NVD placeholder for a label such as "cwe-79" or "79", else None."""
    return parse_cwe_id(value)


def find_cwes(text: str) -> list[str]:
    """Return the CWE labels written inside free text, as in "Out-of-bounds Write (CWE-787)"."""
    found: list[str] = []
    for match in _CWE_IN_TEXT.finditer(text):
        label = f"CWE-{int(match.group(1))}" if match.group(1) else normalise_cwe(match.group(2))
        if label and label not in found:
            found.append(label)
    return found


def source_rank(source: str) -> int:
    """Rank a label source for ordering: lower is more authoritative."""
    if source in SOURCE_RANK:
        return SOURCE_RANK[source]
    if source.startswith("adp:"):
        return _ADP_RANK
    return _OTHER_RANK


def merge_labels(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Order (cwe, source) pairs by source authority and drop repeated CWEs.

    Returns the parallel `cwes` and `cwe_sources` lists of a `CveRecord`; a CWE
    that several sources gave keeps its most authoritative source.
    """
    ordered = sorted(enumerate(pairs), key=lambda item: (source_rank(item[1][1]), item[0]))
    cwes: list[str] = []
    sources: list[str] = []
    for _, (cwe, source) in ordered:
        if cwe not in cwes:
            cwes.append(cwe)
            sources.append(source)
    return cwes, sources
