"""Knowledge questions about CWE entries: definitions, parents, children and mitigations."""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from ctiforge.corpus._config import CweQuestionRecords
from ctiforge.corpus._decontam import Query
from ctiforge.corpus._records import MultipleChoice, TrainingRecord, mcq_record, pick_distractors

if TYPE_CHECKING:
    from ctiforge.catalog import Catalog, CweEntry

logger = logging.getLogger(__name__)

# Parent and child questions use the Research Concepts view, where every weakness has ChildOf links.
RESEARCH_VIEW = 1000
_MAX_MITIGATIONS = 3
_MAX_MITIGATION_CHARS = 400


def _label(entry: CweEntry) -> str:
    return f"{entry.id}: {entry.name}"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(". ", 1)[0]
    return (cut if len(cut) > limit // 2 else text[: limit - 3].rstrip()) + "..."


def build_cwe_records(catalog: Catalog, options: CweQuestionRecords, *, seed: int) -> list[TrainingRecord]:
    """Build the configured question kinds for every weakness that is not deprecated, in ID order."""
    rng = random.Random(f"{seed}:cwe")
    weaknesses = sorted(
        (entry for entry in catalog if entry.kind == "weakness" and not entry.deprecated),
        key=lambda entry: entry.number,
    )
    labels = [_label(entry) for entry in weaknesses]
    provenance_version = getattr(catalog, "version", None)
    records: list[TrainingRecord] = []
    for entry in weaknesses:
        provenance = {"cwe": entry.id, "catalog_version": provenance_version}
        if "definition" in options.kinds and entry.description.strip():
            question = f"What weakness does {entry.id} describe in the CWE catalog?"
            answer = f"{entry.id} is {entry.name}. {' '.join(entry.description.split())}"
            if entry.extended_description.strip():
                answer += " " + _shorten(entry.extended_description, 600)
            records.append(TrainingRecord(
                id=f"cwe-definition:{entry.id}", source="cwe", kind="cwe-definition", prompt=question,
                response=answer, provenance=provenance, query=Query(texts=[question, entry.description]),
            ))
        if "mitigation" in options.kinds and entry.mitigations:
            question = f"Which mitigations does the CWE catalog list for {entry.id} ({entry.name})?"
            items = [f"- {_shorten(text, _MAX_MITIGATION_CHARS)}" for text in entry.mitigations[:_MAX_MITIGATIONS]]
            records.append(TrainingRecord(
                id=f"cwe-mitigation:{entry.id}", source="cwe", kind="cwe-mitigation", prompt=question,
                response="\n".join(items), provenance=provenance, query=Query(texts=[question]),
            ))
        for kind, related in (("parent", entry.parents.get(RESEARCH_VIEW, [])),
                              ("child", entry.children.get(RESEARCH_VIEW, []))):
            if kind not in options.kinds:
                continue
            related_entries = [catalog.find(cwe) for cwe in related]
            related_entries = [e for e in related_entries if e is not None and e.kind == "weakness"]
            if not related_entries:
                continue
            correct = related_entries[rng.randrange(len(related_entries))]
            # Distractors exclude every parent or child, not only the chosen one, and the entry itself.
            excluded = {_label(e) for e in related_entries} | {_label(entry)}
            distractors = pick_distractors(excluded, labels, rng)
            if distractors is None:
                continue
            relation = "a parent (ChildOf target)" if kind == "parent" else "a child"
            question = (
                f"In the CWE Research Concepts view (CWE-1000), which entry is {relation} of "
                f"{entry.id} ({entry.name})?"
            )
            explanation = (
                f"{entry.id} is a child of {correct.id} ({correct.name}) in the Research Concepts view."
                if kind == "parent" else
                f"{correct.id} ({correct.name}) is a child of {entry.id} in the Research Concepts view."
            )
            records.append(mcq_record(
                id=f"cwe-{kind}:{entry.id}", source="cwe", kind=f"cwe-{kind}",
                choice=MultipleChoice(question, _label(correct), distractors, explanation),
                provenance={**provenance, "answer": correct.id},
            ))
    logger.info("built %d CWE question records", len(records))
    return records
