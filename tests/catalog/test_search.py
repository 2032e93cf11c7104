"""Ranking of `Catalog.search` on the shipped catalog."""

from __future__ import annotations

import pytest

from ctiforge.catalog import Catalog


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("out-of-bounds write", "CWE-787"),
        ("Out-of-bounds Write", "CWE-787"),
        ("use after free", "CWE-416"),
        ("sql injection", "CWE-89"),
        ("cross-site scripting", "CWE-79"),
        ("xss", "CWE-79"),
        ("os command injection", "CWE-78"),
        ("hard-coded credentials", "CWE-798"),
        ("deserialization of untrusted data", "CWE-502"),
        ("memory corruption", "CWE-787"),
        ("path traversal", "CWE-22"),
    ],
)
def test_search_top_hit(catalog: Catalog, query: str, expected: str) -> None:
    results = catalog.search(query)
    assert results[0][0].id == expected


def test_search_scores_descending(catalog: Catalog) -> None:
    scores = [score for _, score in catalog.search("buffer overflow", limit=20)]
    assert scores == sorted(scores, reverse=True)


def test_search_scores_positive(catalog: Catalog) -> None:
    assert all(score > 0 for _, score in catalog.search("buffer overflow", limit=20))


def test_search_limit(catalog: Catalog) -> None:
    assert len(catalog.search("injection", limit=3)) == 3


def test_search_default_limit(catalog: Catalog) -> None:
    assert len(catalog.search("injection")) == 10


def test_search_read_before_write(catalog: Catalog) -> None:
    ids = [entry.id for entry, _ in catalog.search("out-of-bounds write", limit=2)]
    assert ids == ["CWE-787", "CWE-125"]


def test_search_by_id_first(catalog: Catalog) -> None:
    assert catalog.search("CWE-787")[0][0].id == "CWE-787"


def test_search_bare_number_first(catalog: Catalog) -> None:
    assert catalog.search("416")[0][0].id == "CWE-416"


def test_search_no_match(catalog: Catalog) -> None:
    assert catalog.search("zzqxv") == []


def test_search_empty_query(catalog: Catalog) -> None:
    assert catalog.search("  ") == []


def test_search_punctuation_only(catalog: Catalog) -> None:
    assert catalog.search("--- ???") == []


def test_search_deprecated_ranks_lower(catalog: Catalog) -> None:
    # CWE-132 "DEPRECATED: Miscalculated Null Termination" was merged into CWE-170.
    ids = [entry.id for entry, _ in catalog.search("null termination", limit=20)]
    assert ids.index("CWE-170") < ids.index("CWE-132")
