"""`ctiforge score`: score recorded model responses on a CTIBench task."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import click

logger = logging.getLogger(__name__)

# Metrics shown in the table after n and parse rate, per primary metric.
_TABLE_METRICS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "accuracy_parseable"),
    "mad": ("mad", "exact_vector"),
    "micro_f1": ("micro_f1", "micro_precision", "micro_recall", "macro_f1"),
    "correct": ("correct", "plausible"),
}
# Metrics that are not rates and so are printed as they are, not as percentages.
_PLAIN_METRICS = {"mad"}
_PREVIEW_CHARS = 100


@click.command("score")
@click.argument("task_name", metavar="TASK")
@click.argument("responses", type=click.Path(dir_okay=False, path_type=str))
@click.option("--column", default=None, help="Score only this model column of a responses TSV (default: every model column).")
@click.option(
    "--rule",
    type=click.Choice(["strict", "lenient", "ctibench"]),
    default=None,
    help="Answer-extraction rule. Default: ctibench for a CTIBench responses TSV, else strict.",
)
@click.option(
    "--data",
    "data_path",
    default=None,
    type=click.Path(exists=True, path_type=str),
    help="CTIBench TSV file or folder that supplies gold answers and item IDs when the responses file lacks them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (metrics as fractions) instead of a table.")
@click.option("--show-unparseable", is_flag=True, help="Also list every response that the rule could not parse.")
def score(task_name: str, responses: str, column: str | None, rule: str | None, data_path: str | None,
          as_json: bool, show_unparseable: bool) -> None:
    """Score recorded responses to TASK (cti-mcq, cti-rcm, cti-rcm-2021, cti-vsp, cti-ate, cti-taa).

    RESPONSES is a CTIBench responses TSV (a GT column and one column per
    model), a reference-run JSON file, or a JSONL file of
    {"task", "item_id" or "index", "response", "gold"} records. The format is
    detected from the content, and a gzip-compressed file is read as it is. The table prints rates as percentages
    (accuracy 72.0 means 72.0%) and MAD in CVSS points.

    \b
    Examples:
      ctiforge score cti-rcm cti-rcm-responses.tsv --column ChatGPT-4
      ctiforge score cti-mcq run.json --rule lenient --json
    """
    from ctiforge.benchmarks import get_task, read_responses

    task = get_task(task_name)
    if rule is not None:
        task.check_rule(rule)
    response_sets = read_responses(responses, task, column=column, data=data_path)

    results = []
    for response_set in response_sets:
        chosen = rule
        if chosen is None:
            chosen = "ctibench" if response_set.source == "tsv" and "ctibench" in task.rules else task.default_rule
        result = task.score(response_set.items, response_set.responses, chosen)
        skipped = [
            {
                "index": response_set.items[position].index,
                "item_id": response_set.items[position].item_id,
                "response": response_set.responses[position],
            }
            for position in result.unparseable
        ]
        if skipped:
            logger.info("%s: %d of %d responses unparseable under rule %s", response_set.model, len(skipped),
                        len(response_set.items), result.rule)
        results.append((response_set, result, skipped))

    if as_json:
        payload = []
        for response_set, result, skipped in results:
            entry: dict[str, Any] = {
                "model": response_set.model,
                "task": result.task,
                "rule": result.rule,
                "source": response_set.source,
                "metrics": {key: _json_number(value) for key, value in result.metrics.items()},
                "primary_metric": task.primary_metric,
                "n_unparseable": len(skipped),
            }
            if show_unparseable:
                entry["unparseable"] = skipped
            payload.append(entry)
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return

    metric_names = _TABLE_METRICS[task.primary_metric]
    header = ["model", "rule", "n", "parse_rate", *metric_names]
    rows = [
        [response_set.model, result.rule, str(int(result.metrics["n"])), _format("parse_rate", result.metrics["parse_rate"]),
         *(_format(name, result.metrics.get(name, math.nan)) for name in metric_names)]
        for response_set, result, _ in results
    ]
    click.echo(_table(header, rows))
    if show_unparseable:
        for response_set, result, skipped in results:
            click.echo(f"\n{response_set.model}: {len(skipped)} unparseable under rule {result.rule}")
            for entry in skipped:
                click.echo(f"  {entry['index']}\t{entry['item_id']}\t{_preview(entry['response'])}")


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def _format(name: str, value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if name in _PLAIN_METRICS:
        return f"{value:.2f}"
    return f"{100 * value:.1f}"


def _preview(response: str | None) -> str:
    if response is None:
        return "(no response)"
    text = json.dumps(response, ensure_ascii=False)
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 3] + "..."


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) if i < 2 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
