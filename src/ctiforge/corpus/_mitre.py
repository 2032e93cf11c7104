"""Multiple-choice questions from MITRE ATT&CK and CAPEC STIX 2.1 bundles."""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from ctiforge.corpus._config import AttackQuestionRecords, CapecQuestionRecords
from ctiforge.corpus._decontam import Query
from ctiforge.corpus._records import MultipleChoice, TrainingRecord, mcq_record, pick_distractors
from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

_CITATION = re.compile(r"\(Citation:[^)]*\)")
_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def read_stix_bundle(path: Path) -> list[dict[str, Any]]:
    """Read the objects of a STIX 2.1 bundle (.json or .json.gz)."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            bundle = json.load(handle)
    except FileNotFoundError:
        raise DataFormatError(f"STIX bundle not found: {path}; fix the path in the config") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, EOFError) as exc:
        raise DataFormatError(f"cannot read STIX bundle {path}: {exc}; expected a STIX 2.1 bundle as .json or .json.gz") from None
    objects = bundle.get("objects") if isinstance(bundle, dict) else None
    if not isinstance(objects, list):
        raise DataFormatError(f"{path} is not a STIX bundle: it has no 'objects' list")
    return [obj for obj in objects if isinstance(obj, dict) and "type" in obj and "id" in obj]


def _live(obj: dict[str, Any]) -> bool:
    return not obj.get("revoked") and not obj.get("x_mitre_deprecated") and obj.get("x_capec_status") != "Deprecated"


def _external_id(obj: dict[str, Any], source_name: str) -> str | None:
    for reference in obj.get("external_references", []):
        if reference.get("source_name") == source_name and reference.get("external_id"):
            return str(reference["external_id"])
    return None


def _plain(text: str) -> str:
    """Remove ATT&CK citations and markdown links from a description."""
    return " ".join(_MARKDOWN_LINK.sub(r"\1", _CITATION.sub("", text)).split())


def _first_sentence(text: str, limit: int = 300) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", _plain(text), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def build_attack_records(path: Path, options: AttackQuestionRecords, *,
                         seed: int) -> tuple[list[TrainingRecord], dict[str, int]]:
    """Build ATT&CK questions and return them with counts of what was left out and why.

    Software questions carry the software's ATT&CK ID, so decontamination
    removes those about software that a benchmark covers (`cti-ate`).
    """
    objects = read_stix_bundle(path)
    rng = random.Random(f"{seed}:attack")
    by_id = {obj["id"]: obj for obj in objects}
    techniques = sorted(
        (obj for obj in objects if obj["type"] == "attack-pattern" and _live(obj) and _external_id(obj, "mitre-attack")),
        key=lambda obj: _external_id(obj, "mitre-attack") or "",
    )
    tactic_names = {
        obj.get("x_mitre_shortname"): obj["name"] for obj in objects if obj["type"] == "x-mitre-tactic" and _live(obj)
    }
    related: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    software_uses: dict[str, set[str]] = defaultdict(set)
    for rel in objects:
        if rel["type"] != "relationship" or rel.get("revoked") or rel.get("x_mitre_deprecated"):
            continue
        source, target = by_id.get(rel.get("source_ref", "")), by_id.get(rel.get("target_ref", ""))
        if source is None or target is None or not _live(source) or not _live(target):
            continue
        kind = rel.get("relationship_type")
        if kind == "mitigates" and source["type"] == "course-of-action":
            related[target["id"]]["mitigation"].add(source["name"])
        elif kind == "detects" and source["type"] == "x-mitre-detection-strategy":
            related[target["id"]]["detection"].add(source["name"])
            for analytic_ref in source.get("x_mitre_analytic_refs", []):
                analytic = by_id.get(analytic_ref, {})
                for log_source in analytic.get("x_mitre_log_source_references", []):
                    component = by_id.get(log_source.get("x_mitre_data_component_ref", ""))
                    if component is not None and _live(component):
                        related[target["id"]]["data-component"].add(component["name"])
        elif kind == "uses" and source["type"] in ("malware", "tool") and target["type"] == "attack-pattern":
            software_uses[source["id"]].add(target["id"])

    pools = {
        "tactic": sorted(set(tactic_names.values())),
        "mitigation": sorted({n for r in related.values() for n in r["mitigation"]}),
        "detection": sorted({n for r in related.values() for n in r["detection"]}),
        "data-component": sorted({n for r in related.values() for n in r["data-component"]}),
    }
    questions = {
        "tactic": "Which ATT&CK tactic does the technique {tid} ({name}) belong to?",
        "mitigation": "Which mitigation does MITRE ATT&CK list for the technique {tid} ({name})?",
        "detection": "Which detection strategy does MITRE ATT&CK list for the technique {tid} ({name})?",
        "data-component": "Which data component does ATT&CK use to detect the technique {tid} ({name})?",
    }
    explanations = {
        "tactic": "{tid} ({name}) serves the {answer} tactic.",
        "mitigation": "ATT&CK lists {answer} as a mitigation for {tid} ({name}).",
        "detection": "ATT&CK detects {tid} ({name}) with the strategy {answer}.",
        "data-component": "ATT&CK's analytics for {tid} ({name}) read the {answer} data component.",
    }
    records: list[TrainingRecord] = []
    left_out: dict[str, int] = defaultdict(int)
    for technique in techniques:
        tid = _external_id(technique, "mitre-attack")
        name = technique["name"]
        answers = {
            "tactic": {tactic_names[p["phase_name"]] for p in technique.get("kill_chain_phases", [])
                       if p.get("kill_chain_name") == "mitre-attack" and p.get("phase_name") in tactic_names},
            **{kind: related[technique["id"]][kind] for kind in ("mitigation", "detection", "data-component")},
        }
        for kind in ("tactic", "mitigation", "detection", "data-component"):
            if kind not in options.kinds or not answers[kind]:
                continue
            correct = rng.choice(sorted(answers[kind]))
            distractors = pick_distractors(answers[kind], pools[kind], rng)
            if distractors is None:
                left_out[f"{kind}: too few distractors"] += 1
                continue
            question = questions[kind].format(tid=tid, name=name)
            records.append(mcq_record(
                id=f"attack-{kind}:{tid}", source="attack", kind=f"attack-{kind}",
                choice=MultipleChoice(question, correct, distractors,
                                      explanations[kind].format(tid=tid, name=name, answer=correct)),
                provenance={"technique": tid, "answer": correct},
            ))

    if "software" in options.kinds:
        technique_label = {t["id"]: f"{_external_id(t, 'mitre-attack')}: {t['name']}" for t in techniques}
        software = sorted(
            (obj for obj in objects if obj["type"] in ("malware", "tool") and _live(obj) and _external_id(obj, "mitre-attack")),
            key=lambda obj: _external_id(obj, "mitre-attack") or "",
        )
        pool = sorted(technique_label.values())
        for item in software:
            sid = _external_id(item, "mitre-attack") or ""
            used = sorted(technique_label[t] for t in software_uses[item["id"]] if t in technique_label)
            if not used:
                continue
            correct = rng.choice(used)
            distractors = pick_distractors(set(used), pool, rng)
            if distractors is None:
                continue
            question = f"Which technique has the software {item['name']} ({sid}) been reported to use, according to MITRE ATT&CK?"
            records.append(mcq_record(
                id=f"attack-software:{sid}", source="attack", kind="attack-software",
                choice=MultipleChoice(question, correct, distractors,
                                      f"ATT&CK records that {item['name']} uses {correct}."),
                provenance={"software": sid, "answer": correct.split(":", 1)[0]},
                query=Query(texts=[question], software_ids={sid.upper()}),
            ))
    logger.info("built %d ATT&CK question records", len(records))
    return records, dict(left_out)


def build_capec_records(path: Path, options: CapecQuestionRecords, *, seed: int,
                        cwe_names: dict[str, str]) -> tuple[list[TrainingRecord], dict[str, int]]:
    """Build CAPEC questions; `cwe_names` maps CWE IDs to names for the weakness questions."""
    objects = read_stix_bundle(path)
    rng = random.Random(f"{seed}:capec")
    by_id = {obj["id"]: obj for obj in objects}
    patterns = sorted(
        (obj for obj in objects if obj["type"] == "attack-pattern" and _live(obj) and _external_id(obj, "capec")),
        key=lambda obj: int((_external_id(obj, "capec") or "CAPEC-0").split("-")[-1]),
    )
    mitigations: dict[str, set[str]] = defaultdict(set)
    for rel in objects:
        if rel["type"] == "relationship" and rel.get("relationship_type") == "mitigates":
            source = by_id.get(rel.get("source_ref", ""))
            if source is not None and source.get("description"):
                mitigations[rel.get("target_ref", "")].add(_first_sentence(source["description"], 240))
    names = [f"{_external_id(p, 'capec')}: {p['name']}" for p in patterns]
    mitigation_pool = sorted({text for texts in mitigations.values() for text in texts})
    cwe_pool = sorted(f"{cwe}: {name}" for cwe, name in cwe_names.items())

    records: list[TrainingRecord] = []
    left_out: dict[str, int] = defaultdict(int)
    for pattern, label in zip(patterns, names):
        capec_id = _external_id(pattern, "capec")
        name = pattern["name"]
        candidates: list[tuple[str, str, set[str], list[str], str]] = []
        if "definition" in options.kinds and pattern.get("description"):
            summary = _first_sentence(pattern["description"])
            candidates.append(("definition", f"Which CAPEC attack pattern matches this summary: {summary}",
                               {label}, names, f"The summary describes {label}."))
        if "mitigation" in options.kinds and mitigations[pattern["id"]]:
            candidates.append(("mitigation", f"Which mitigation does CAPEC list for {capec_id} ({name})?",
                               mitigations[pattern["id"]], mitigation_pool, "CAPEC lists this mitigation for {capec_id}."))
        weaknesses = {
            f"{ref['external_id']}: {cwe_names[ref['external_id']]}"
            for ref in pattern.get("external_references", [])
            if ref.get("source_name") == "cwe" and ref.get("external_id") in cwe_names
        }
        if "weakness" in options.kinds and weaknesses:
            candidates.append(("weakness", f"Which CWE weakness does the attack pattern {capec_id} ({name}) exploit?",
                               weaknesses, cwe_pool, "CAPEC relates {capec_id} to {answer}."))
        for kind, question, answers, pool, explanation in candidates:
            correct = rng.choice(sorted(answers))
            distractors = pick_distractors(answers, pool, rng)
            if distractors is None:
                left_out[f"{kind}: too few distractors"] += 1
                continue
            records.append(mcq_record(
                id=f"capec-{kind}:{capec_id}", source="capec", kind=f"capec-{kind}",
                choice=MultipleChoice(question, correct, distractors,
                                      explanation.format(capec_id=capec_id, answer=correct)),
                provenance={"capec": capec_id, "answer": correct.split(":", 1)[0] if kind != "mitigation" else correct},
            ))
    logger.info("built %d CAPEC question records", len(records))
    return records, dict(left_out)
