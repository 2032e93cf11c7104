"""Entries, views and walks of the shipped CWE 4.14 catalog."""

from __future__ import annotations

from collections import Counter

import pytest

from ctiforge.catalog import NVD_NOINFO, NVD_OTHER, Catalog, CweEntry
from ctiforge.errors import UnknownIdError


def test_catalog_version(catalog: Catalog) -> None:
    assert catalog.version == "4.14"


def test_catalog_kind_counts(catalog: Catalog) -> None:
    counts = Counter(entry.kind for entry in catalog)
    assert counts["weakness"] == 963
    assert counts["category"] == 409
    assert counts["view"] == 54


def test_catalog_length(catalog: Catalog) -> None:
    assert len(catalog) == 963 + 409 + 54


def test_entries_keyed_by_canonical_id(catalog: Catalog) -> None:
    assert all(key == entry.id == f"CWE-{entry.number}" for key, entry in catalog.entries.items())


def test_nvd_view_has_130_members(catalog: Catalog) -> None:
    assert len(catalog.view_members(1003)) == 130


def test_nvd_view_flag_matches_members(catalog: Catalog) -> None:
    flagged = {entry.id for entry in catalog if entry.in_nvd_view}
    assert flagged == set(catalog.view_members(1003))


def test_nvd_view_members_sorted(catalog: Catalog) -> None:
    members = catalog.view_members(1003)
    assert [catalog.entries[m].number for m in members] == sorted(catalog.entries[m].number for m in members)


def test_view_members_rejects_weakness(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match="not a view"):
        catalog.view_members(787)


def test_out_of_bounds_write_entry(catalog: Catalog) -> None:
    entry = catalog.get("CWE-787")
    assert entry.name == "Out-of-bounds Write"
    assert entry.kind == "weakness"
    assert entry.abstraction == "Base"
    assert entry.structure == "Simple"
    assert entry.status == "Draft"
    assert entry.mapping_usage == "Allowed"
    assert entry.in_nvd_view is True
    assert entry.description.startswith("The product writes data past the end")


def test_out_of_bounds_write_relations(catalog: Catalog) -> None:
    entry = catalog.get(787)
    assert entry.parents[1000] == ["CWE-119"]
    assert entry.parents[699] == ["CWE-1218"]
    assert entry.parents[1003] == ["CWE-119"]
    assert entry.children[1000] == ["CWE-121", "CWE-122", "CWE-123", "CWE-124"]


def test_child_lists_parent_back(catalog: Catalog) -> None:
    assert "CWE-787" in catalog.get(121).parents[1000]


def test_primary_parent_listed_first(catalog: Catalog) -> None:
    # CWE-121 names CWE-788 as its primary parent and CWE-787 as a second one.
    assert catalog.get(121).parents[1000] == ["CWE-788", "CWE-787"]


def test_category_members_are_children(catalog: Catalog) -> None:
    category = catalog.get(1218)
    assert category.kind == "category"
    assert "CWE-787" in category.children[699]


def test_view_members_point_to_view(catalog: Catalog) -> None:
    assert "CWE-1003" in catalog.get(20).parents[1003]


def test_category_mapping_prohibited(catalog: Catalog) -> None:
    assert catalog.get(1218).mapping_usage == "Prohibited"


def test_view_mapping_prohibited(catalog: Catalog) -> None:
    view = catalog.get(1003)
    assert view.kind == "view"
    assert view.mapping_usage == "Prohibited"
    assert view.structure == "Graph"


def test_discouraged_class(catalog: Catalog) -> None:
    assert catalog.get(20).mapping_usage == "Discouraged"


def test_mapping_usage_values(catalog: Catalog) -> None:
    usages = {entry.mapping_usage for entry in catalog}
    assert usages == {"Allowed", "Allowed-with-Review", "Discouraged", "Prohibited"}


def test_mapping_rationale_text(catalog: Catalog) -> None:
    assert "Base level of abstraction" in (catalog.get(787).mapping_rationale or "")


def test_deprecated_entry_and_replacement(catalog: Catalog) -> None:
    entry = catalog.get(132)
    assert entry.status == "Deprecated"
    assert entry.deprecated is True
    assert entry.replaced_by == ["CWE-170"]


def test_deprecated_entry_two_replacements(catalog: Catalog) -> None:
    assert catalog.get(217).replaced_by == ["CWE-766", "CWE-767"]


def test_deprecated_category_ignores_view_mention(catalog: Catalog) -> None:
    # The text of CWE-1 names only the Development View (CWE-699) it once organised.
    assert catalog.get(1).replaced_by == []


def test_deprecated_category_skips_deprecated_mention(catalog: Catalog) -> None:
    # CWE-68 points to category CWE-632 (deprecated itself) and weakness CWE-66.
    assert catalog.get(68).replaced_by == ["CWE-66"]


def test_deprecated_count(catalog: Catalog) -> None:
    assert sum(entry.deprecated for entry in catalog) == 64


def test_current_entry_has_no_replacement(catalog: Catalog) -> None:
    assert catalog.get(787).replaced_by == []


def test_resolve_deprecated(catalog: Catalog) -> None:
    assert catalog.resolve_deprecated("CWE-132") == ["CWE-170"]


def test_resolve_deprecated_current_entry(catalog: Catalog) -> None:
    assert catalog.resolve_deprecated("CWE-787") == []


def test_resolve_deprecated_unknown_id(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError):
        catalog.resolve_deprecated("CWE-99999")


def test_observed_examples_are_cve_ids(catalog: Catalog) -> None:
    examples = catalog.get(787).observed_examples
    assert "CVE-2021-21220" in examples
    assert all(example.startswith("CVE-") for entry in catalog for example in entry.observed_examples)


def test_related_capec(catalog: Catalog) -> None:
    assert "CAPEC-63" in catalog.get(79).related_capec


def test_alternate_terms(catalog: Catalog) -> None:
    assert "XSS" in catalog.get(79).alternate_terms


def test_consequences_text(catalog: Catalog) -> None:
    assert catalog.get(787).consequences == [
        "Integrity, Availability: Modify Memory; DoS: Crash, Exit, or Restart; "
        "Execute Unauthorized Code or Commands"
    ]


def test_mitigations_plain_text(catalog: Catalog) -> None:
    mitigations = catalog.get(787).mitigations
    assert len(mitigations) == 7
    assert mitigations[-1].startswith("Replace unbounded copy functions")
    assert not any("xhtml" in text or "<" in text for text in mitigations)


def test_extended_description_keeps_blocks(catalog: Catalog) -> None:
    text = catalog.get(79).extended_description
    assert text.splitlines()[1] == "Untrusted data enters a web application, typically from a web request."


def test_extended_description_single_spaces(catalog: Catalog) -> None:
    assert all("  " not in entry.extended_description for entry in catalog)


def test_get_accepts_all_forms(catalog: Catalog) -> None:
    entry = catalog.get("CWE-79")
    for form in ("cwe-79", "CWE 79", "CWE79", "79", 79, " CWE-079 "):
        assert catalog.get(form) is entry


def test_get_unknown_message(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match=r"^CWE-99999 is not in the CWE 4\.14 catalog"):
        catalog.get("CWE-99999")


def test_get_unknown_suggests_close_ids(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match=r"did you mean .*CWE-787 \(Out-of-bounds Write\)"):
        catalog.get("CWE-7870")


@pytest.mark.parametrize("label", [NVD_OTHER, NVD_NOINFO, "nvd-cwe-noinfo"])
def test_get_rejects_nvd_label(catalog: Catalog, label: str) -> None:
    with pytest.raises(UnknownIdError, match="NVD label"):
        catalog.get(label)


def test_get_rejects_non_id(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError, match="not a CWE ID"):
        catalog.get("buffer overflow")


def test_find_known_and_unknown(catalog: Catalog) -> None:
    assert catalog.find("cwe 787") is catalog.entries["CWE-787"]
    assert catalog.find("CWE-99999") is None
    assert catalog.find(NVD_OTHER) is None
    assert catalog.find("not an id") is None


def test_contains(catalog: Catalog) -> None:
    assert "CWE-787" in catalog
    assert 787 in catalog
    assert "CWE-99999" not in catalog
    assert NVD_OTHER not in catalog
    assert None not in catalog


def test_iteration_yields_entries(catalog: Catalog) -> None:
    entries = list(catalog)
    assert len(entries) == len(catalog)
    assert all(isinstance(entry, CweEntry) for entry in entries)


def test_entry_is_frozen_and_hashable(catalog: Catalog) -> None:
    entry = catalog.get(787)
    with pytest.raises(AttributeError):
        entry.name = "changed"  # type: ignore[misc]
    assert {entry: 1}[catalog.get("CWE-787")] == 1


def test_entry_dict_round_trip(catalog: Catalog) -> None:
    entry = catalog.get(787)
    assert CweEntry.from_dict(entry.to_dict()) == entry


def test_ancestors_research_view(catalog: Catalog) -> None:
    assert catalog.ancestors("CWE-787") == ["CWE-119", "CWE-118", "CWE-664"]


def test_ancestors_nearest_first(catalog: Catalog) -> None:
    assert catalog.ancestors(121)[:3] == ["CWE-788", "CWE-787", "CWE-119"]


def test_ancestors_development_view(catalog: Catalog) -> None:
    assert catalog.ancestors(787, 699) == ["CWE-1218"]


def test_ancestors_of_pillar(catalog: Catalog) -> None:
    assert catalog.ancestors(664) == []


def test_nvd_ancestor_of_member(catalog: Catalog) -> None:
    assert catalog.nvd_ancestor("CWE-787") == "CWE-787"


def test_nvd_ancestor_of_variant(catalog: Catalog) -> None:
    assert catalog.nvd_ancestor("CWE-121") == "CWE-787"


def test_nvd_ancestor_of_category(catalog: Catalog) -> None:
    assert catalog.nvd_ancestor(1218) is None


def test_nvd_ancestor_keeps_nvd_labels(catalog: Catalog) -> None:
    assert catalog.nvd_ancestor("nvd-cwe-other") == NVD_OTHER


def test_nvd_ancestor_unknown_id(catalog: Catalog) -> None:
    with pytest.raises(UnknownIdError):
        catalog.nvd_ancestor("CWE-99999")


def test_every_nvd_ancestor_is_member(catalog: Catalog) -> None:
    members = set(catalog.view_members(1003))
    ancestors = {catalog.nvd_ancestor(entry.id) for entry in catalog if entry.kind == "weakness"}
    assert ancestors - {None} <= members


def test_relations_name_known_entries(catalog: Catalog) -> None:
    for entry in catalog:
        for relation in (entry.parents, entry.children):
            for ids in relation.values():
                assert all(cwe_id in catalog.entries for cwe_id in ids), entry.id
