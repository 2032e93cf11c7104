"""Auditing an existing chat or prompt/response JSONL corpus against benchmark files."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ctiforge.corpus._config import Decontamination
from ctiforge.corpus._decontam import BenchmarkIndex, Hit, Query, cve_ids_in
from ctiforge.corpus._jsonl import ChatExample, read_chat_jsonl
from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)


@dataclass
class BenchmarkAudit:
    """How much of one benchmark a corpus contains.

    `verbatim` counts items whose normalised text appears inside a record,
    and `same_label` those of them whose matching records give the item's
    gold answer on their final line. When the matching records disagree, the
    label most of them give counts, and on a tie the earliest record's label.
    `near_duplicate` and `cve_id` count further items found only by shingle
    containment or by CVE ID.
    """

    benchmark: str
    items: int
    verbatim: int = 0
    same_label: int = 0
    near_duplicate: int = 0
    cve_id: int = 0
    contaminated_items: int = 0
    records: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CheckReport:
    """The result of `check_corpus`: per-benchmark audits plus the lines that could not be read."""

    corpus: str
    records: int
    contaminated_records: int
    skipped_lines: list[dict[str, Any]]
    benchmarks: list[BenchmarkAudit]

    @property
    def clean(self) -> bool:
        return self.contaminated_records == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["clean"] = self.clean
        return data


def _query_of(example: ChatExample) -> Query:
    texts = [m["content"] for m in example.messages]
    ids: set[str] = set()
    for text in texts:
        ids |= cve_ids_in(text)
    return Query(texts=texts, cve_ids=ids)


def _majority(labels: list[str]) -> str:
    counts = Counter(labels)
    best = max(counts.values())
    return next(label for label in labels if counts[label] == best)


def check_corpus(path: Path, benchmark_paths: Sequence[Path], *, settings: Decontamination | None = None,
                 skip_invalid: bool = False) -> CheckReport:
    """Find the items of each benchmark file that a JSONL corpus contains.

    Raise `DataFormatError` for unreadable files, and for invalid corpus lines
    unless `skip_invalid` is set (then they are listed in the report).
    """
    settings = settings or Decontamination()
    index = BenchmarkIndex.from_files(benchmark_paths, threshold=settings.threshold,
                                      shingle_size=settings.shingle_size, min_shingles=settings.min_shingles)
    corpus, invalid = read_chat_jsonl(path, skip_invalid=skip_invalid)
    if not corpus:
        skipped = f" ({len(invalid)} invalid line(s) skipped)" if invalid else ""
        raise DataFormatError(
            f"{path} contains no records{skipped}; expected a JSONL file with one "
            "prompt/response or chat messages object per line"
        )
    logger.info("checking %d records of %s against %d benchmark items", len(corpus), path, len(index.items))
    hits_per_record = index.find([_query_of(example) for example in corpus])

    # For each benchmark item, the strongest reason found and the labels of its verbatim copies.
    best: dict[tuple[str, int], Hit] = {}
    # Verbatim text decides the label statistics, so here it outranks a CVE ID match.
    rank = ("verbatim", "cve-id", "near-duplicate", "benchmark-software")
    labels: dict[tuple[str, int], list[str]] = defaultdict(list)
    records_per_benchmark: dict[str, set[int]] = defaultdict(set)
    example_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for example, hits in zip(corpus, hits_per_record):
        for hit in hits:
            key = (hit.item.benchmark, hit.item.row)
            records_per_benchmark[hit.item.benchmark].add(example.line)
            previous = best.get(key)
            if previous is None or rank.index(hit.reason) < rank.index(previous.reason):
                best[key] = hit
            if hit.reason == "verbatim":
                labels[key].append(example.final_line.casefold())
            if len(example_rows[hit.item.benchmark]) < settings.examples:
                example_rows[hit.item.benchmark].append({
                    "line": example.line,
                    "benchmark_row": hit.item.row,
                    "reason": hit.reason,
                    "score": round(hit.score, 3),
                    "text": hit.item.text[:160],
                })

    audits = []
    for name in index.benchmarks:
        items = index.items_of(name)
        audit = BenchmarkAudit(benchmark=name, items=len(items))
        for item in items:
            hit = best.get((name, item.row))
            if hit is None:
                continue
            audit.contaminated_items += 1
            if hit.reason == "verbatim":
                audit.verbatim += 1
                if item.gold and _majority(labels[(name, item.row)]) == item.gold.casefold():
                    audit.same_label += 1
            elif hit.reason == "cve-id":
                audit.cve_id += 1
            elif hit.reason == "near-duplicate":
                audit.near_duplicate += 1
        audit.records = len(records_per_benchmark[name])
        audit.examples = example_rows[name]
        audits.append(audit)

    contaminated = sum(1 for hits in hits_per_record if hits)
    return CheckReport(
        corpus=str(path),
        records=len(corpus),
        contaminated_records=contaminated,
        skipped_lines=[{"line": bad.line, "reason": bad.reason} for bad in invalid],
        benchmarks=audits,
    )
