"""Conversion of NVD labels to mapper classes.

NVD's 1.1 feeds label CVEs with CWE IDs, with the placeholders
`NVD-CWE-Other` and `NVD-CWE-noinfo`, and, before 2016, with categories that
CWE now marks Prohibited for mapping. This module turns each record's labels
into the classes the mapper learns, following one of the policies below.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from ctiforge.catalog import Catalog, NVD_NOINFO, NVD_OTHER, parse_cwe_id

# Usage values of CWE's Mapping_Notes that allow an entry as a mapping result.
OUTPUT_USAGES = ("Allowed", "Allowed-with-Review", "Discouraged")

# Old NVD categories, Prohibited for mapping in CWE 4.14, and a weakness NVD
# assigns today for the same kind of flaw. CWE-284 is the entry that CWE-264's
# Mapping_Notes name. The other targets are view-1003 entries chosen by hand
# to cover each category's typical members. Only the MAP policy uses them.
OLD_CATEGORY_TARGETS: dict[str, str] = {
    "CWE-264": "CWE-284",  # Permissions, Privileges, and Access Controls -> Improper Access Control
    "CWE-275": "CWE-284",  # Permission Issues -> Improper Access Control
    "CWE-399": "CWE-400",  # Resource Management Errors -> Uncontrolled Resource Consumption
    "CWE-310": "CWE-327",  # Cryptographic Issues -> Broken or Risky Cryptographic Algorithm
    "CWE-189": "CWE-682",  # Numeric Errors -> Incorrect Calculation (parent of 190, 191, 193, 369 in view 1003)
    "CWE-255": "CWE-522",  # Credentials Management Errors -> Insufficiently Protected Credentials
    "CWE-21": "CWE-22",  # Pathname Traversal and Equivalence Errors -> Path Traversal
}


class LabelPolicy(str, enum.Enum):
    """Treatment of labels that the mapper must not output.

    `DROP` keeps only labels usable for mapping (records left without one
    are skipped). `MAP` first rewrites old categories with
    `OLD_CATEGORY_TARGETS`, then drops like `DROP`. `LEARN` keeps every
    label as a class, so the model learns to tell them apart, but the
    mapper never outputs the Prohibited ones.
    """

    DROP = "drop"
    MAP = "map"
    LEARN = "learn"


def is_output_class(catalog: Catalog, cwe_id: str) -> bool:
    """Return whether the mapper may output `cwe_id`: a current weakness not Prohibited for mapping."""
    entry = catalog.find(cwe_id)
    return (
        entry is not None
        and entry.kind == "weakness"
        and not entry.deprecated
        and entry.mapping_usage in OUTPUT_USAGES
    )


def convert_labels(labels: Iterable[str], catalog: Catalog, policy: LabelPolicy) -> list[str]:
    """Return the classes for one record's labels under `policy`, without duplicates.

    Placeholders and IDs the catalog does not know are dropped. A
    deprecated entry becomes its replacement when MITRE names exactly one.
    """
    classes: list[str] = []
    for label in labels:
        if label in (NVD_OTHER, NVD_NOINFO):
            continue
        cwe_id = parse_cwe_id(label)
        if cwe_id is None or catalog.find(cwe_id) is None:
            continue
        if catalog.get(cwe_id).deprecated:
            successors = catalog.resolve_deprecated(cwe_id)
            if len(successors) != 1:
                continue
            cwe_id = successors[0]
        if policy is not LabelPolicy.LEARN:
            if policy is LabelPolicy.MAP:
                cwe_id = OLD_CATEGORY_TARGETS.get(cwe_id, cwe_id)
            if not is_output_class(catalog, cwe_id):
                continue
        if cwe_id not in classes:
            classes.append(cwe_id)
    return classes
