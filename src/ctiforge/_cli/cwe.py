"""`ctiforge cwe`: look up and search the CWE catalog."""

from __future__ import annotations

import json
import shlex
import textwrap
from pathlib import Path

import click

from ctiforge.catalog import NVD_VIEW_ID, Catalog, CweEntry, load_catalog, parse_cwe_id
from ctiforge.errors import UnknownIdError

# Views whose relations `cwe show` prints: Research Concepts (1000), Software
# Development (699) and the NVD mapping view (1003).
_RELATION_VIEWS = (1000, 699, NVD_VIEW_ID)
_MAX_LISTED_RELATIONS = 12


@click.group()
@click.option(
    "--catalog",
    "catalog_path",
    # Existence and file type are checked by load_catalog, whose errors name the fix.
    type=click.Path(path_type=Path),
    default=None,
    help="MITRE CWE XML or .xml.zip to use instead of the shipped CWE 4.14 catalog.",
)
@click.pass_context
def cwe(ctx: click.Context, catalog_path: Path | None) -> None:
    """Look up and search the CWE catalog.

    \b
    Examples:
      ctiforge cwe show CWE-787
      ctiforge cwe search "out-of-bounds write" --limit 5
      ctiforge cwe --catalog cwec_v4.15.xml.zip show 79 --json
    """
    ctx.obj = catalog_path


def _catalog(ctx: click.Context) -> Catalog:
    return load_catalog(ctx.obj)


@cwe.command("show")
@click.argument("cwe_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole entry as JSON.")
@click.pass_context
def show(ctx: click.Context, cwe_id: str, as_json: bool) -> None:
    """Show one entry: name, abstraction, status, mapping usage, relations, description.

    CWE_ID may be written CWE-787, cwe-787, "CWE 787", CWE787 or 787.
    """
    if parse_cwe_id(cwe_id) is None:
        raise UnknownIdError(
            f"{cwe_id!r} is not a CWE ID (write it as CWE-787, cwe-787, CWE787 or 787); "
            f"to find entries by words, run: ctiforge cwe search {shlex.quote(cwe_id)}"
        )
    catalog = _catalog(ctx)
    entry = catalog.get(cwe_id)
    nvd_ancestor = catalog.nvd_ancestor(entry.id)
    if as_json:
        data = entry.to_dict()
        data["nvd_ancestor"] = nvd_ancestor
        data["catalog_version"] = catalog.version
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(_format_entry(catalog, entry, nvd_ancestor))


@cwe.command("search")
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Maximum number of matches to print.")
@click.option("--json", "as_json", is_flag=True, help="Print the matches as a JSON list.")
@click.pass_context
def search(ctx: click.Context, query: str, limit: int, as_json: bool) -> None:
    """Rank entries by how well their name and description match QUERY."""
    if not query.strip():
        raise click.BadParameter("the search query is empty; pass words such as \"out-of-bounds write\"",
                                 param_hint="QUERY")
    catalog = _catalog(ctx)
    results = catalog.search(query, limit=limit)
    if as_json:
        rows = [
            {
                "rank": rank,
                "id": entry.id,
                "name": entry.name,
                "kind": entry.kind,
                "abstraction": entry.abstraction,
                "status": entry.status,
                "mapping_usage": entry.mapping_usage,
                "in_nvd_view": entry.in_nvd_view,
                "score": score,
            }
            for rank, (entry, score) in enumerate(results, start=1)
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not results:
        click.echo(f"no CWE {catalog.version} entry matches {query!r}", err=True)
        return
    id_width = max(len(entry.id) for entry, _ in results)
    click.echo(f"{'rank':>4}  {'id':<{id_width}}  {'score':>7}  {'usage':<19}  name")
    for rank, (entry, score) in enumerate(results, start=1):
        usage = entry.mapping_usage or "-"
        click.echo(f"{rank:>4}  {entry.id:<{id_width}}  {score:>7.2f}  {usage:<19}  {entry.name}")


def _format_entry(catalog: Catalog, entry: CweEntry, nvd_ancestor: str | None) -> str:
    """Render an entry as aligned "field: value" lines followed by its description."""
    fields: list[tuple[str, str]] = [
        ("kind", entry.kind),
        ("abstraction", entry.abstraction or "-"),
        ("status", entry.status),
        ("mapping usage", entry.mapping_usage or "-"),
    ]
    if entry.replaced_by:
        fields.append(("replaced by", ", ".join(_labelled(catalog, entry.replaced_by))))
    if entry.in_nvd_view:
        fields.append(("NVD view 1003", "member"))
    elif nvd_ancestor:
        fields.append(("NVD view 1003", f"not a member; nearest member ancestor {_labelled(catalog, [nvd_ancestor])[0]}"))
    else:
        fields.append(("NVD view 1003", "not a member, and no ancestor is"))
    for view in _RELATION_VIEWS:
        for relation, links in (("parents", entry.parents), ("children", entry.children)):
            ids = links.get(view, [])
            if ids:
                fields.append((f"{relation} ({view})", _relation_text(catalog, ids)))

    width = max(len(label) for label, _ in fields) + 1
    lines = [f"{entry.id}: {entry.name}"]
    lines.extend(f"  {label + ':':<{width}} {value}" for label, value in fields)
    for heading, text in (("description", entry.description), ("extended description", entry.extended_description)):
        if text:
            lines.append("")
            lines.append(f"{heading}:")
            for paragraph in text.split("\n"):
                lines.append(textwrap.fill(paragraph, width=88, initial_indent="  ", subsequent_indent="  "))
    if entry.mapping_rationale:
        lines.append("")
        lines.append("mapping rationale:")
        lines.append(textwrap.fill(entry.mapping_rationale, width=88, initial_indent="  ", subsequent_indent="  "))
    return "\n".join(lines)


def _labelled(catalog: Catalog, ids: list[str]) -> list[str]:
    """Return each ID followed by its entry name."""
    labels = []
    for cwe_id in ids:
        entry = catalog.entries.get(cwe_id)
        labels.append(f"{cwe_id} {entry.name}" if entry else cwe_id)
    return labels


def _relation_text(catalog: Catalog, ids: list[str]) -> str:
    if len(ids) == 1:
        return _labelled(catalog, ids)[0]
    listed = ", ".join(ids[:_MAX_LISTED_RELATIONS])
    omitted = len(ids) - _MAX_LISTED_RELATIONS
    return f"{listed} (+{omitted} more, see --json)" if omitted > 0 else listed
