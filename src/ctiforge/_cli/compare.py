"""`ctiforge compare`: evaluation runs side by side, with paired tests and published numbers."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="compare", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--rule", type=click.Choice(["strict", "lenient"]), default="strict", show_default=True,
              help="Answer-extraction rule whose scores are compared.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(runs: tuple[Path, ...], rule: str, as_json: bool) -> None:
    """Compare run folders (or report.json files) task by task.

    The first run is the baseline of the paired tests: McNemar's exact test
    when both runs have one trial of an accuracy task, and otherwise a paired
    bootstrap over items of the per-item score averaged over trials.
    Published numbers appear next to a run only when the run's protocol label
    matches theirs.
    """
    from ctiforge.evaluate import compare_reports, format_comparison, load_report

    reports = [load_report(path) for path in runs]
    names = _unique_names(runs)
    result = compare_reports(reports, names, rule=rule)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(format_comparison(result), nl=False)


def _unique_names(paths: tuple[Path, ...]) -> list[str]:
    names = []
    for path in paths:
        name = (path.parent.name if path.is_file() else path.name) or str(path)
        candidate, n = name, 2
        while candidate in names:
            candidate, n = f"{name}#{n}", n + 1
        names.append(candidate)
    return names
