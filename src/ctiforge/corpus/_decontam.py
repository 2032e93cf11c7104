"""Matching training records against benchmark items: CVE IDs, verbatim text, near-duplicates, ATT&CK software."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Sequence

from ctiforge.corpus._benchmarks import CVE_ID, BenchmarkItem, benchmark_name, read_benchmark
from ctiforge.corpus._text import ShingleIndex, Vocabulary, normalize_text
from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

MatchReason = Literal["cve-id", "verbatim", "near-duplicate", "benchmark-software"]

# Strongest evidence first; a record's reported reason for an item is the first that applies.
REASON_ORDER: tuple[MatchReason, ...] = ("cve-id", "verbatim", "near-duplicate", "benchmark-software")


@dataclass
class Query:
    """The texts and identifiers of one training record that are compared with the benchmark items."""

    texts: list[str]
    cve_ids: set[str] = field(default_factory=set)
    software_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Hit:
    """A benchmark item found in a record, with the reason and the shingle containment score (1.0 for ID matches)."""

    item: BenchmarkItem
    reason: MatchReason
    score: float


def cve_ids_in(text: str) -> set[str]:
    """Return the CVE IDs mentioned in a text, upper-cased."""
    return {match.group(0).upper() for match in CVE_ID.finditer(text)}


class BenchmarkIndex:
    """All items of the configured benchmark files, indexed for the four kinds of match.

    `threshold` is the minimum share of an item's word shingles that a record
    must contain to be a near-duplicate, and `min_shingles` the item size
    below which an item only matches a text equal to it after normalisation.
    """

    def __init__(self, items: Sequence[BenchmarkItem], *, threshold: float, shingle_size: int,
                 min_shingles: int) -> None:
        self.items = list(items)
        self.threshold = threshold
        self.shingle_size = shingle_size
        self.min_shingles = min_shingles
        self.benchmarks = sorted({item.benchmark for item in self.items})
        self._by_cve: dict[str, list[int]] = defaultdict(list)
        self._by_software: dict[str, list[int]] = defaultdict(list)
        self._by_text: dict[str, list[int]] = defaultdict(list)
        for position, item in enumerate(self.items):
            if item.cve_id:
                self._by_cve[item.cve_id].append(position)
            if item.software_id:
                self._by_software[item.software_id].append(position)
            if item.text.strip():
                self._by_text[normalize_text(item.text)].append(position)
        self._normalized = [normalize_text(item.text) for item in self.items]
        self._shingles = ShingleIndex([item.text for item in self.items], shingle_size=shingle_size,
                                      vocabulary=Vocabulary())

    @classmethod
    def from_files(cls, paths: Iterable[Path], *, threshold: float, shingle_size: int,
                   min_shingles: int) -> "BenchmarkIndex":
        items: list[BenchmarkItem] = []
        seen: dict[str, Path] = {}
        for path in paths:
            name = benchmark_name(path)
            if name in seen:
                raise DataFormatError(
                    f"benchmark files {seen[name]} and {path} have the same name {name!r}, which the reports "
                    "use as the key; rename one of them"
                )
            seen[name] = path
            items.extend(read_benchmark(path))
        return cls(items, threshold=threshold, shingle_size=shingle_size, min_shingles=min_shingles)

    @property
    def software_ids(self) -> set[str]:
        """ATT&CK software IDs that are benchmark items (the `cti-ate` rows)."""
        return set(self._by_software)

    def items_of(self, benchmark: str) -> list[BenchmarkItem]:
        return [item for item in self.items if item.benchmark == benchmark]

    def find(self, queries: Sequence[Query]) -> list[list[Hit]]:
        """Return, for each query, the benchmark items it contains (at most one hit per item)."""
        found: list[dict[int, Hit]] = [{} for _ in queries]

        def add(query: int, position: int, reason: MatchReason, score: float) -> None:
            previous = found[query].get(position)
            if previous is None or REASON_ORDER.index(reason) < REASON_ORDER.index(previous.reason):
                found[query][position] = Hit(self.items[position], reason, score)

        flat_texts: list[str] = []
        owner: list[int] = []
        for number, query in enumerate(queries):
            for cve in query.cve_ids:
                for position in self._by_cve.get(cve.upper(), ()):
                    add(number, position, "cve-id", 1.0)
            for software in query.software_ids:
                for position in self._by_software.get(software.upper(), ()):
                    add(number, position, "benchmark-software", 1.0)
            for text in query.texts:
                for position in self._by_text.get(normalize_text(text), ()):
                    add(number, position, "verbatim", 1.0)
                flat_texts.append(text)
                owner.append(number)

        normalized_cache: dict[int, str] = {}
        for match in self._shingles.match(flat_texts, threshold=self.threshold, min_shingles=self.min_shingles):
            query = owner[match.query]
            if match.query not in normalized_cache:
                normalized_cache[match.query] = normalize_text(flat_texts[match.query])
            item_text = self._normalized[match.item]
            # A copy counts as verbatim when the whole normalised item text appears inside the record text.
            reason: MatchReason = "verbatim" if item_text and item_text in normalized_cache[match.query] else "near-duplicate"
            add(query, match.item, reason, match.score)

        return [sorted(hits.values(), key=lambda h: (h.item.benchmark, h.item.row)) for hits in found]
