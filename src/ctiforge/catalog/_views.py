"""View IDs that ctiforge relies on, and view membership from relations."""

from __future__ import annotations

from typing import Any

NVD_VIEW_ID = 1003
RESEARCH_VIEW_ID = 1000
DEVELOPMENT_VIEW_ID = 699


def view_member_ids(records: Any, view: int) -> set[str]:
    """Return the IDs that take part in a view's relations, without the view's own ID.

    Works on record dicts and on `CweEntry` objects. Views defined by a filter
    (MITRE's "Implicit" views) list no relations, so they have no members here.
    """
    members: set[str] = set()
    view_id = f"CWE-{view}"
    for record in records:
        parents = record["parents"] if isinstance(record, dict) else record.parents
        children = record["children"] if isinstance(record, dict) else record.children
        record_id = record["id"] if isinstance(record, dict) else record.id
        if view in parents or view in children:
            members.add(record_id)
    members.discard(view_id)
    return members
