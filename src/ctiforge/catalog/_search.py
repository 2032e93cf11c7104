"""Keyword search over entry names, alternate terms and descriptions (BM25 per field)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from ctiforge.catalog._entry import CweEntry

_TOKEN = re.compile(r"[a-z0-9]+")
# MITRE puts an entry's common name in brackets and quotes at the end of its
# name, e.g. "Improper Neutralization ... ('SQL Injection')".
_SEPARATORS = re.compile(r"[\s_\-\u2010-\u2014]+")
_COMMON_NAME = re.compile(r"\('(.+?)'\)\s*$")

# Okapi BM25 constants, the usual defaults.
_K1 = 1.2
_B = 0.75

# A name match counts more than a match in the longer description.
_FIELD_WEIGHTS = {"name": 3.0, "terms": 1.5, "description": 1.0}
# Extra score when the query is an entry's whole name, common name or alternate
# term, or appears as a phrase in the name or description.
_EXACT_NAME_BONUS = 25.0
_NAME_PHRASE_BONUS = 6.0
_DESCRIPTION_PHRASE_BONUS = 1.0
# Deprecated entries, categories and views stay findable but rank below
# current weaknesses, because MITRE prohibits mapping vulnerabilities to them.
_DEPRECATED_FACTOR = 0.5
_GROUPING_FACTOR = 0.8


def tokenize(text: str) -> list[str]:
    """Split text into lowercase word tokens, with a plural "s" removed."""
    return [_stem(token) for token in _TOKEN.findall(text.lower())]


def _stem(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


class _Field:
    """BM25 statistics of one text field across all entries."""

    def __init__(self, documents: Sequence[list[str]]) -> None:
        self.counts = [Counter(tokens) for tokens in documents]
        self.lengths = [len(tokens) for tokens in documents]
        self.average_length = max(sum(self.lengths) / max(len(documents), 1), 1.0)
        frequency: Counter[str] = Counter()
        for counts in self.counts:
            frequency.update(counts.keys())
        total = len(documents)
        self.idf = {
            token: math.log(1.0 + (total - found + 0.5) / (found + 0.5)) for token, found in frequency.items()
        }

    def score(self, index: int, query: list[str]) -> float:
        counts = self.counts[index]
        length_norm = _K1 * (1 - _B + _B * self.lengths[index] / self.average_length)
        total = 0.0
        for token in query:
            found = counts.get(token, 0)
            if found:
                total += self.idf[token] * found * (_K1 + 1) / (found + length_norm)
        return total


class SearchIndex:
    """A ranked keyword index over catalog entries."""

    def __init__(self, entries: Sequence[CweEntry]) -> None:
        self.entries = list(entries)
        self.names = [" ".join(tokenize(entry.name)) for entry in self.entries]
        self.descriptions = [
            " ".join(tokenize(f"{entry.description} {entry.extended_description}")) for entry in self.entries
        ]
        self.fields = {
            "name": _Field([text.split() for text in self.names]),
            "terms": _Field([tokenize(" ".join(entry.alternate_terms)) for entry in self.entries]),
            "description": _Field([text.split() for text in self.descriptions]),
        }
        self.exact_names = [_exact_names(entry) for entry in self.entries]

    def search(self, query: str, *, limit: int) -> list[tuple[CweEntry, float]]:
        """Return up to `limit` entries with a positive score, best first.

        Scores are only comparable within one query. Ties keep catalog order
        (by CWE number).
        """
        tokens = list(dict.fromkeys(tokenize(query)))
        if not tokens or limit < 1:
            return []
        phrase = " ".join(tokenize(query))
        exact = _exact_key(query)
        scored: list[tuple[float, int]] = []
        for index, entry in enumerate(self.entries):
            score = sum(weight * self.fields[name].score(index, tokens) for name, weight in _FIELD_WEIGHTS.items())
            if score <= 0.0:
                continue
            if exact in self.exact_names[index]:
                score += _EXACT_NAME_BONUS
            if _contains_phrase(self.names[index], phrase):
                score += _NAME_PHRASE_BONUS
            elif _contains_phrase(self.descriptions[index], phrase):
                score += _DESCRIPTION_PHRASE_BONUS
            if entry.deprecated:
                score *= _DEPRECATED_FACTOR
            if entry.kind != "weakness":
                score *= _GROUPING_FACTOR
            scored.append((score, index))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [(self.entries[index], round(score, 4)) for score, index in scored[:limit]]


def _exact_key(text: str) -> str:
    """Lowercase text with hyphens and underscores as spaces; other punctuation counts."""
    return " ".join(_SEPARATORS.sub(" ", text.lower()).split())


def _exact_names(entry: CweEntry) -> set[str]:
    """Return the exact-match keys of the entry's name, common name and alternate terms."""
    names = [entry.name, *entry.alternate_terms]
    common = _COMMON_NAME.search(entry.name)
    if common is not None:
        names.append(common.group(1))
    return {_exact_key(name) for name in names}


def _contains_phrase(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {text} "
