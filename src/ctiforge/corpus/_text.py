"""Text normalisation and word-shingle containment for near-duplicate detection.

Two texts are compared by their sets of word n-grams ("shingles") after
normalisation. The score is the containment of the benchmark item in the
query text, |item ∩ query| / |item|: the share of the item's shingles that
the query contains. It is computed exactly from 64-bit shingle hashes with
numpy. Unlike Jaccard similarity, it stays at 1.0 when a benchmark text is
wrapped inside a longer prompt, which is how benchmark items usually leak
into instruction corpora. A short reference text quoted inside a long
benchmark item (a CWE definition inside a CVE description) scores low,
because it carries little of the item.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")

# Odd 64-bit multiplier for the rolling shingle hash (the golden-ratio constant).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def normalize_text(text: str) -> str:
    """Return the text in NFKC form, case-folded, with runs of whitespace collapsed to one space.

    Two texts that are equal after this are treated as the same text word for word.
    """
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def words(text: str) -> list[str]:
    """Split normalised text into words, dropping punctuation."""
    return _WORD.findall(normalize_text(text))


class Vocabulary:
    """Word-to-integer ids shared by every text hashed in one comparison.

    Ids depend only on the order in which words are first seen, so the hashes
    are the same in every process (unlike Python's salted `hash`).
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        ids = self._ids
        out = np.empty(len(tokens), dtype=np.uint64)
        for position, token in enumerate(tokens):
            token_id = ids.get(token)
            if token_id is None:
                token_id = len(ids) + 1
                ids[token] = token_id
            out[position] = token_id
        return out


def shingle_hashes(token_ids: np.ndarray, size: int) -> np.ndarray:
    """Return the sorted, distinct 64-bit hashes of all word n-grams of `size` words.

    A text shorter than `size` words gives one shingle made of all its words,
    so short texts still match their exact copies.
    """
    count = len(token_ids)
    if count == 0:
        return np.empty(0, dtype=np.uint64)
    width = min(size, count)
    windows = count - width + 1
    hashes = np.zeros(windows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(width):
            hashes = hashes * _MULTIPLIER + token_ids[offset : offset + windows]
    return np.unique(hashes)


@dataclass(frozen=True)
class OverlapMatch:
    """A query text that contains at least the threshold share of an item's shingles."""

    query: int
    item: int
    score: float


class ShingleIndex:
    """Exact shingle containment of a fixed set of item texts in many query texts.

    `max_item_frequency` drops shingles shared by more items than that from the
    index. Such shingles are boilerplate ("allows remote attackers to execute")
    and would otherwise pair every query with hundreds of items. The
    denominators still count them, so dropping them can only lower a score.
    NOTE: an item made only of such boilerplate shingles can therefore not
    reach a high score; it still matches when equal after normalisation.
    """

    def __init__(self, item_texts: Sequence[str], *, shingle_size: int, vocabulary: Vocabulary,
                 max_item_frequency: int = 50) -> None:
        self.shingle_size = shingle_size
        self.vocabulary = vocabulary
        per_item = [shingle_hashes(vocabulary.encode(words(text)), shingle_size) for text in item_texts]
        self.item_sizes = np.array([len(h) for h in per_item], dtype=np.int64)
        if per_item:
            all_hashes = np.concatenate(per_item)
            owners = np.repeat(np.arange(len(per_item), dtype=np.int64), self.item_sizes)
        else:
            all_hashes = np.empty(0, dtype=np.uint64)
            owners = np.empty(0, dtype=np.int64)
        order = np.argsort(all_hashes, kind="stable")
        all_hashes, owners = all_hashes[order], owners[order]
        keys, starts, counts = np.unique(all_hashes, return_index=True, return_counts=True)
        keep = counts <= max_item_frequency
        self._keys = keys[keep]
        self._starts = starts[keep]
        self._counts = counts[keep]
        self._owners = owners

    def match(self, query_texts: Iterable[str], *, threshold: float, min_shingles: int) -> list[OverlapMatch]:
        """Return every (query, item) pair where the query contains at least `threshold` of the item's shingles.

        Items with fewer than `min_shingles` shingles are skipped, because a
        handful of shared words is not evidence of a copy.
        Results are sorted by query, then by descending score, then by item.
        """
        query_hashes = [shingle_hashes(self.vocabulary.encode(words(text)), self.shingle_size) for text in query_texts]
        if not query_hashes or len(self._keys) == 0:
            return []
        query_sizes = np.array([len(h) for h in query_hashes], dtype=np.int64)
        flat = np.concatenate(query_hashes) if query_sizes.sum() else np.empty(0, dtype=np.uint64)
        query_of = np.repeat(np.arange(len(query_hashes), dtype=np.int64), query_sizes)

        slot = np.searchsorted(self._keys, flat)
        slot_clipped = np.minimum(slot, len(self._keys) - 1)
        hit = self._keys[slot_clipped] == flat
        hit_query = query_of[hit]
        hit_slot = slot_clipped[hit]
        if len(hit_slot) == 0:
            return []

        # Expand each hit shingle to every item that contains it.
        counts = self._counts[hit_slot]
        pair_query = np.repeat(hit_query, counts)
        first = np.repeat(self._starts[hit_slot], counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        pair_item = self._owners[first + within]

        n_items = np.int64(len(self.item_sizes))
        pair_key, shared = np.unique(pair_query * n_items + pair_item, return_counts=True)
        pair_query = pair_key // n_items
        pair_item = pair_key % n_items
        item_size = self.item_sizes[pair_item]
        score = shared / np.maximum(item_size, 1)
        keep = (score >= threshold) & (item_size >= min_shingles)
        order = np.lexsort((pair_item[keep], -score[keep], pair_query[keep]))
        return [
            OverlapMatch(int(q), int(i), float(s))
            for q, i, s in zip(pair_query[keep][order], pair_item[keep][order], score[keep][order])
        ]
