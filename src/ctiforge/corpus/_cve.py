"""CVE-to-CWE mapping records and CVSS vector records, built from CVE records and the CWE catalog."""

from __future__ import annotations

import logging
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ctiforge.corpus._config import CveCweRecords, CvssRecords
from ctiforge.corpus._decontam import Query, cve_ids_in
from ctiforge.corpus._records import CVSS_INSTRUCTION, MAPPING_INSTRUCTION, TrainingRecord

if TYPE_CHECKING:
    from ctiforge.catalog import Catalog, CweEntry
    from ctiforge.sources import CveRecord

logger = logging.getLogger(__name__)

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_TERM = re.compile(r"[a-z][a-z0-9'-]{2,}")

# Words too common in CVE and CWE text to show that a description points to an entry.
_STOPWORDS = frozenset("""
a about above after again against all allow allowed allows also an and any are as at attack attacker attackers be
because been before being below between both but by can cause causes could did does doing during each either
element elements even for from further had has have having here how however if in into is it its itself lead
leads may might more most must no nor not of off on once only or other otherwise out over own product products
same should so some such than that the their them then there these they this those through to too under until
up use used user users uses using very via was were what when where which while who whom why will with within
without would version versions vulnerability vulnerabilities issue remote arbitrary execute code earlier prior
certain specific unspecified related properly proper correctly correct improper improperly
""".split())

_CVSS_NAMES = {
    "AV": ("Attack Vector", {"N": "Network", "A": "Adjacent", "L": "Local", "P": "Physical"}),
    "AC": ("Attack Complexity", {"L": "Low", "H": "High"}),
    "PR": ("Privileges Required", {"N": "None", "L": "Low", "H": "High"}),
    "UI": ("User Interaction", {"N": "None", "R": "Required"}),
    "S": ("Scope", {"U": "Unchanged", "C": "Changed"}),
    "C": ("Confidentiality", {"N": "None", "L": "Low", "H": "High"}),
    "I": ("Integrity", {"N": "None", "L": "Low", "H": "High"}),
    "A": ("Availability", {"N": "None", "L": "Low", "H": "High"}),
}


@dataclass
class CveStats:
    """Counts of CVE records read, used and skipped by reason."""

    read: int = 0
    mapping_records: int = 0
    cvss_records: int = 0
    skipped: Counter = field(default_factory=Counter)
    readable_per_file: dict[str, int] = field(default_factory=dict)
    """Readable CVE records per input file, so a file that contributes nothing can be named."""


def _terms(text: str) -> set[str]:
    return {term for term in _TERM.findall(text.lower()) if term not in _STOPWORDS}


def _entry_terms(entry: CweEntry) -> tuple[set[str], list[str]]:
    """Return the content words of an entry's name, description and alternate terms, and its multi-word alternate terms."""
    text = " ".join([entry.name, entry.description, *entry.alternate_terms])
    return _terms(text), [term for term in entry.alternate_terms if term.strip()]


def mapping_response(description: str, cwe_id: str, entry: CweEntry) -> str:
    """Write a short justification that ties the description to the entry, ending with the CWE ID alone.

    The justification quotes the description's sentence that shares the most
    content words with the entry's name, description and alternate terms, and
    names those shared words.
    """
    entry_terms, alternate_terms = _entry_terms(entry)
    sentences = [s.strip() for s in _SENTENCE.split(description.strip()) if s.strip()] or [description.strip()]
    scored = [(len(_terms(sentence) & entry_terms), -position, sentence) for position, sentence in enumerate(sentences)]
    shared_count, _, best = max(scored)
    shared = sorted(_terms(best) & entry_terms)
    named_alternates = [term for term in alternate_terms if term.lower() in description.lower()]

    lines = [f"The weakness described is {cwe_id}: {entry.name}."]
    if shared_count:
        quote = best if len(best) <= 300 else best[:297].rstrip() + "..."
        terms = ", ".join(f'"{term}"' for term in shared[:6])
        lines.append(f'The description says: "{quote}" Its terms {terms} match the CWE entry.')
    if named_alternates:
        lines.append(f"The description uses the entry's alternate term {named_alternates[0]!r}.")
    summary = entry.description.strip()
    first_sentence = _SENTENCE.split(summary)[0] if summary else ""
    if first_sentence:
        lines.append(f"{cwe_id} covers this case: {first_sentence}")
    if not shared_count and not named_alternates:
        lines.append("The description does not use the entry's own terms, so the mapping rests on what the flaw does.")
    return " ".join(lines) + f"\n\n{cwe_id}"


def cvss_response(vector: str) -> str | None:
    """Summarise each base metric of a CVSS v3 vector and end with the vector alone, or None if it is invalid."""
    parts = vector.strip().split("/")
    if len(parts) != 9 or not parts[0].startswith("CVSS:3"):
        return None
    values = dict(part.split(":", 1) for part in parts[1:] if ":" in part)
    lines = []
    for metric, (name, meanings) in _CVSS_NAMES.items():
        value = values.get(metric)
        if value not in meanings:
            return None
        lines.append(f"- **{name} ({metric})**: {meanings[value]} ({value})")
    return "\n".join(lines) + f"\n\n{vector.strip()}"


def _read_all(paths: Iterable[Path], fmt: str, stats: CveStats) -> list[CveRecord]:
    from ctiforge.sources import CveRecord, read_records

    records = []
    for path in paths:
        readable = 0
        for item in read_records(path, format=None if fmt == "auto" else fmt):
            stats.read += 1
            if isinstance(item, CveRecord):
                records.append(item)
                readable += 1
            else:
                stats.skipped[f"unreadable: {item.code}"] += 1
        stats.readable_per_file[str(path)] = readable
    return records


def build_cve_records(paths: list[Path], *, fmt: str, catalog: Catalog, mapping: CveCweRecords,
                      cvss: CvssRecords, seed: int) -> tuple[list[TrainingRecord], CveStats]:
    """Build mapping and CVSS records from CVE files, in a deterministic order."""
    stats = CveStats()
    cves = _read_all(paths, fmt, stats)
    # One record per CVE ID: the first occurrence wins, so overlapping inputs add nothing twice.
    seen: set[str] = set()
    unique = []
    for cve in cves:
        key = cve.cve_id or f"{cve.source}:{cve.locator}"
        if key in seen:
            stats.skipped["duplicate CVE ID"] += 1
            continue
        seen.add(key)
        unique.append(cve)

    mapping_records: list[TrainingRecord] = []
    cvss_records: list[TrainingRecord] = []
    allowed = set(mapping.allowed_usage)
    for cve in unique:
        query = Query(texts=[cve.description], cve_ids=({cve.cve_id} if cve.cve_id else set()) | cve_ids_in(cve.description))
        provenance = {"cve_id": cve.cve_id, "file": Path(cve.source).name, "locator": cve.locator}
        if mapping.enabled:
            record = _mapping_record(cve, catalog, allowed, provenance, query, stats)
            if record is not None:
                mapping_records.append(record)
        if cvss.enabled:
            response = cvss_response(cve.cvss_v3_vector) if cve.cvss_v3_vector else None
            if response is None:
                stats.skipped["no valid CVSS v3 vector" if cve.cvss_v3_vector else "no CVSS v3 vector"] += 1
            else:
                cvss_records.append(TrainingRecord(
                    id=f"cvss:{cve.cve_id or cve.locator}", source="nvd", kind="cvss-vector",
                    prompt=f"{CVSS_INSTRUCTION}  CVE Description: {cve.description}", response=response,
                    provenance={**provenance, "vector": cve.cvss_v3_vector}, query=query,
                ))

    mapping_records = _sample_mapping(mapping_records, mapping, seed)
    if cvss.max_records is not None and len(cvss_records) > cvss.max_records:
        rng = random.Random(f"{seed}:cvss")
        cvss_records = sorted(rng.sample(cvss_records, cvss.max_records), key=lambda r: r.id)
    stats.mapping_records = len(mapping_records)
    stats.cvss_records = len(cvss_records)
    return mapping_records + cvss_records, stats


def _mapping_record(cve: CveRecord, catalog: Catalog, allowed: set[str], provenance: dict,
                    query: Query, stats: CveStats) -> TrainingRecord | None:
    labels = cve.specific_cwes
    if not labels:
        stats.skipped["no specific CWE label"] += 1
        return None
    if len(labels) > 1:
        stats.skipped["several CWE labels"] += 1
        return None
    entry = catalog.find(labels[0])
    if entry is None:
        stats.skipped["CWE not in catalog"] += 1
        return None
    if entry.kind != "weakness" or (entry.mapping_usage or "Allowed") not in allowed:
        stats.skipped[f"mapping usage {entry.mapping_usage or 'unknown'}"] += 1
        return None
    return TrainingRecord(
        id=f"cve-cwe:{cve.cve_id or cve.locator}", source="nvd", kind="cve-cwe",
        prompt=f"{MAPPING_INSTRUCTION}  CVE Description: {cve.description}",
        response=mapping_response(cve.description, entry.id, entry),
        provenance={**provenance, "cwe": entry.id, "label_source": cve.cwe_sources[0] if cve.cwe_sources else None},
        query=query,
    )


def _sample_mapping(records: list[TrainingRecord], mapping: CveCweRecords, seed: int) -> list[TrainingRecord]:
    rng = random.Random(f"{seed}:cve-cwe")
    if mapping.max_per_cwe is not None:
        by_cwe: dict[str, list[TrainingRecord]] = defaultdict(list)
        for record in records:
            by_cwe[record.provenance["cwe"]].append(record)
        kept = []
        for cwe in sorted(by_cwe):
            group = by_cwe[cwe]
            kept.extend(group if len(group) <= mapping.max_per_cwe else rng.sample(group, mapping.max_per_cwe))
        records = sorted(kept, key=lambda r: r.id)
    if mapping.max_records is not None and len(records) > mapping.max_records:
        records = sorted(rng.sample(records, mapping.max_records), key=lambda r: r.id)
    return records
