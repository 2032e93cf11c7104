"""cti-ate: extract the ATT&CK techniques a piece of malware uses from its description."""

from __future__ import annotations

import re
from typing import Any, Sequence

from ctiforge.benchmarks._task import Task
from ctiforge.benchmarks._types import Item, Parsed
from ctiforge.errors import ConfigError, DataFormatError

ATE_RULES = ("strict", "lenient")

_TECHNIQUE = re.compile(r"(?<![A-Za-z0-9])T(\d{4})(?:\.(\d{3}))?(?![0-9])")
_TECHNIQUE_ANY_CASE = re.compile(_TECHNIQUE.pattern, re.IGNORECASE)


def _parents(pattern: re.Pattern[str], text: str) -> list[str]:
    # Sub-techniques (T1059.001) count as their parent (T1059) because the
    # benchmark's gold lists hold parent technique IDs only.
    seen: dict[str, None] = {}
    for match in pattern.finditer(text):
        seen.setdefault(f"T{match.group(1)}", None)
    return list(seen)


def extract_attack_ids(text: str | None, rule: str = "strict") -> Parsed:
    """Extract ATT&CK technique IDs, reduced to unique parent IDs in order of appearance.

    Rules (step names in `Parsed.step`):

    ``strict``: ``last_line``, the IDs on the last line that contains any ID. The
    dataset's prompt asks for a final line of comma-separated main technique IDs,
    and the reasoning above it may name techniques the model then rejects.

    ``lenient``: ``anywhere``, every ID in the response, in any letter case.

    An empty list is never returned: a response without IDs is unparseable (None).
    """
    if rule not in ATE_RULES:
        raise ConfigError(f"cti-ate has no answer rule {rule!r}; use one of: {', '.join(ATE_RULES)}")
    if not isinstance(text, str):
        return Parsed(None, rule, None, 0)
    raw_len = len(text)
    if rule == "lenient":
        ids = _parents(_TECHNIQUE_ANY_CASE, text)
        return Parsed(ids, rule, "anywhere", raw_len) if ids else Parsed(None, rule, None, raw_len)
    for line in reversed(text.splitlines()):
        ids = _parents(_TECHNIQUE, line)
        if ids:
            return Parsed(ids, rule, "last_line", raw_len)
    return Parsed(None, rule, None, raw_len)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class AteTask(Task):
    """cti-ate: 60 malware descriptions, each with the list of parent technique IDs it uses."""

    name = "cti-ate"
    file_name = "cti-ate.tsv"
    rules = ATE_RULES
    primary_metric = "micro_f1"
    required_columns = ("URL", "Description", "Prompt", "GT")

    def normalize_gold(self, text: str, *, where: str) -> Any:
        ids = _parents(_TECHNIQUE_ANY_CASE, text)
        if not ids:
            raise DataFormatError(f"{where}: gold answer {text!r} contains no ATT&CK technique ID such as T1059")
        return ids

    def _extract(self, response: str, rule: str) -> Parsed:
        return extract_attack_ids(response, rule)

    def _exemplar_key(self, item: Item) -> str:
        return item.fields.get("Description", "").strip()

    def _base_text(self, item: Item, exemplars: Sequence[Item]) -> str:
        blocks = [f"Text: {_text(exemplar)}\nAnswer: {', '.join(exemplar.gold)}" for exemplar in exemplars]
        blocks.append(f"Text: {_text(item)}\nAnswer:")
        return "\n\n".join(blocks)

    def _base_stop(self) -> list[str]:
        return ["\n\n", "\nText:"]

    def _score_item(self, item: Item, parsed: Parsed) -> dict[str, Any]:
        gold = set(item.gold)
        predicted = set(parsed.value or ())
        tp = len(gold & predicted)
        fp = len(predicted - gold)
        fn = len(gold - predicted)
        precision, recall, f1 = _prf(tp, fp, fn)
        return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}

    def _aggregate(self, per_item: list[dict[str, Any]], parsed: list[Parsed]) -> dict[str, float]:
        n = len(per_item)
        tp = sum(row["tp"] for row in per_item)
        fp = sum(row["fp"] for row in per_item)
        fn = sum(row["fn"] for row in per_item)
        micro_precision, micro_recall, micro_f1 = _prf(tp, fp, fn)
        return {
            "micro_precision": micro_precision,
            "micro_recall": micro_recall,
            "micro_f1": micro_f1,
            # Macro figures average the per-item values. An unparseable response
            # counts as an empty prediction (precision, recall and F1 of 0).
            "macro_precision": sum(row["precision"] for row in per_item) / n if n else 0.0,
            "macro_recall": sum(row["recall"] for row in per_item) / n if n else 0.0,
            "macro_f1": sum(row["f1"] for row in per_item) / n if n else 0.0,
        }


def _text(item: Item) -> str:
    if "Description" not in item.fields:
        raise DataFormatError(
            f"cti-ate item {item.item_id} has no Description; the base protocol needs items loaded from cti-ate.tsv"
        )
    return " ".join(item.fields["Description"].split())
