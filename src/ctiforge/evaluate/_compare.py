"""Compare evaluation reports: side-by-side tables, paired tests and published numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ctiforge.evaluate._settings import canonical_protocol_label
from ctiforge.evaluate._stats import mcnemar_exact, paired_bootstrap


@dataclass(frozen=True)
class PublishedResult:
    """A published score with the harness and protocol it was measured under."""

    model: str
    task: str
    metric: str
    value: float
    protocol_label: str
    harness: str


# The preset foundation-sec-ift reproduces this harness's settings.
_CYBERSECQWEN_HARNESS = "CyberSecQwen IFT harness (preset foundation-sec-ift: 5 trials, temperature 0.3)"

PUBLISHED_RESULTS: tuple[PublishedResult, ...] = (
    PublishedResult("CyberSecQwen-4B", "cti-rcm", "accuracy", 0.6664, "foundation-sec-ift",
                    _CYBERSECQWEN_HARNESS),
    PublishedResult("CyberSecQwen-4B", "cti-mcq", "accuracy", 0.5868, "foundation-sec-ift",
                    _CYBERSECQWEN_HARNESS),
    PublishedResult("Foundation-Sec-8B-Instruct", "cti-rcm", "accuracy", 0.685, "foundation-sec-ift",
                    _CYBERSECQWEN_HARNESS),
    PublishedResult("Foundation-Sec-8B-Instruct", "cti-mcq", "accuracy", 0.500, "foundation-sec-ift",
                    _CYBERSECQWEN_HARNESS),
    PublishedResult("Foundation-Sec-8B-Instruct", "cti-rcm", "accuracy", 0.704, "cisco-foundation-sec",
                    "Cisco Foundation AI's own harness"),
    PublishedResult("Foundation-Sec-8B-Instruct", "cti-mcq", "accuracy", 0.650, "cisco-foundation-sec",
                    "Cisco Foundation AI's own harness"),
    PublishedResult("GPT-4", "cti-mcq", "accuracy", 0.710, "ctibench-paper",
                    "CTIBench paper (temperature 0, expert system prompt)"),
    PublishedResult("GPT-4", "cti-rcm", "accuracy", 0.720, "ctibench-paper",
                    "CTIBench paper (temperature 0, expert system prompt)"),
    PublishedResult("GPT-4", "cti-vsp", "mad", 1.31, "ctibench-paper",
                    "CTIBench paper (temperature 0, expert system prompt)"),
)


def compare_reports(reports: list[dict[str, Any]], names: list[str], *, rule: str = "strict") -> dict[str, Any]:
    """Return the side-by-side table, paired tests against the first run, and the published tables."""
    tasks = sorted({task for report in reports for task in report["tasks"]})
    side_by_side = []
    for task in tasks:
        for name, report in zip(names, reports):
            entry = report["tasks"].get(task)
            if entry is None:
                continue
            summary = entry["summary"].get(rule) or {}
            side_by_side.append({
                "task": task, "run": name, "model": report["backend"].get("model"),
                "protocol_label": canonical_protocol_label(report.get("protocol_label")),
                "metric": entry["primary_metric"], "rule": rule,
                "mean": summary.get("mean"), "std": summary.get("std"), "ci95": summary.get("ci95"),
                "parse_rate": summary.get("parse_rate"), "trials": entry["n_trials_scored"], "items": entry["n_items"],
                "subset": subset_note(report, entry), "not_scored": entry.get("not_scored"),
            })
    paired = []
    for task in tasks:
        baseline = reports[0]["tasks"].get(task)
        if baseline is None:
            continue
        for name, report in list(zip(names, reports))[1:]:
            other = report["tasks"].get(task)
            if other is not None:
                paired.append({"task": task, "a": names[0], "b": name, **_paired(baseline, other, rule)})
    matched, unmatched = _published_tables(reports, names, rule)
    return {"rule": rule, "side_by_side": side_by_side, "paired": paired,
            "published_matching": matched, "unmatched_runs": unmatched,
            "published": [vars(result) for result in PUBLISHED_RESULTS]}


def _paired(a: dict[str, Any], b: dict[str, Any], rule: str) -> dict[str, Any]:
    metric = a["primary_metric"]
    key = {"accuracy": "correct", "mad": "abs_error", "micro_f1": "f1"}.get(metric, metric)
    a_values = _per_item_means(a, rule, key)
    b_values = _per_item_means(b, rule, key)
    shared = sorted(set(a_values) & set(b_values))
    result: dict[str, Any] = {"metric": metric, "items": len(shared)}
    if not shared:
        return {**result, "test": None, "p_value": None, "difference": None}
    result.update(paired_bootstrap([a_values[i] for i in shared], [b_values[i] for i in shared]))
    single_trial = a["n_trials_scored"] == 1 and b["n_trials_scored"] == 1
    if metric == "accuracy" and single_trial:
        exact = mcnemar_exact([a_values[i] >= 0.5 for i in shared], [b_values[i] >= 0.5 for i in shared])
        result.update({"test": exact["test"], "p_value": exact["p_value"], "only_a": exact["only_a"],
                       "only_b": exact["only_b"]})
    return result


def _per_item_means(task: dict[str, Any], rule: str, key: str) -> dict[str, float]:
    """Return item_id -> the per-item measure averaged over the scored trials."""
    means = {}
    for item in task["items"]:
        values = []
        for trial in item["trials"]:
            measure = (trial.get("measures") or {}).get(rule, {}).get(key)
            if measure is not None:
                values.append(float(measure))
        if values:
            means[item["item_id"]] = sum(values) / len(values)
    return means


def subset_note(report: dict[str, Any], entry: dict[str, Any]) -> str | None:
    """Return "subset: N of M items, not comparable" when a task was scored on fewer items than its file has."""
    total = entry.get("n_items_total")
    if total is None:
        # Older reports lack the file's item count, so the only sign of a
        # subset there is a --limit that the task file filled completely.
        limit = (report.get("settings") or {}).get("limit")
        if limit is None or entry["n_items"] < limit:
            return None
        return f"subset: {entry['n_items']} items (--limit {limit}), not comparable"
    if entry["n_items"] >= total:
        return None
    return f"subset: {entry['n_items']} of {total} items, not comparable"


def _published_tables(reports: list[dict[str, Any]], names: list[str], rule: str) -> tuple[list, list]:
    """Split (run, task) rows into those placed next to published numbers and the rest, each with its reason."""
    matched, unmatched = [], []
    for name, report in zip(names, reports):
        label = canonical_protocol_label(report.get("protocol_label"))
        references = [r for r in PUBLISHED_RESULTS if r.protocol_label == label]
        for task, entry in report["tasks"].items():
            summary = entry["summary"].get(rule) or {}
            row = {"run": name, "model": report["backend"].get("model"), "task": task, "protocol_label": label,
                   "metric": entry["primary_metric"], "mean": summary.get("mean"), "items": entry["n_items"]}
            same_task = [r for r in references if r.task == task and r.metric == entry["primary_metric"]]
            subset = subset_note(report, entry)
            if entry.get("not_scored"):
                unmatched.append({**row, "reason": f"not scored: {entry['not_scored']}"})
            elif subset is not None:
                # Published figures cover the whole task file, so a subset is never placed next to them.
                unmatched.append({**row, "reason": subset})
            elif same_task:
                matched.extend({**row, "published_model": r.model, "published_value": r.value, "harness": r.harness}
                               for r in same_task)
            else:
                unmatched.append({**row, "reason": f"no published numbers for {task} under protocol {label}"})
    return matched, unmatched


def format_comparison(result: dict[str, Any]) -> str:
    """Render a comparison as plain-text tables."""
    lines = [f"Side by side ({result['rule']} rule):", ""]
    lines.append(_table(["task", "run", "model", "protocol", "metric", "mean ± std", "95% CI", "parse", "trials",
                         "items", "note"], [
        [r["task"], r["run"], r["model"], r["protocol_label"], r["metric"], f"{_n(r['mean'])} ± {_n(r['std'])}",
         f"{_n(r['ci95'][0])}–{_n(r['ci95'][1])}" if r["ci95"] else "n/a", _n(r["parse_rate"]), str(r["trials"]),
         str(r["items"]), _row_note(r)]
        for r in result["side_by_side"]
    ]))
    if result["paired"]:
        lines += ["", "Paired per-item differences (b - a):", ""]
        lines.append(_table(["task", "a", "b", "items", "difference", "95% CI", "test", "p-value"], [
            [p["task"], p["a"], p["b"], str(p["items"]), _n(p.get("difference")),
             f"{_n(p['ci95'][0])}–{_n(p['ci95'][1])}" if p.get("ci95") else "n/a", str(p.get("test")),
             _n(p.get("p_value"))]
            for p in result["paired"]
        ]))
    lines += ["", "Runs over the full task file next to published numbers measured under the same protocol:", ""]
    if result["published_matching"]:
        lines.append(_table(["task", "run", "protocol", "mean", "published model", "published", "harness"], [
            [m["task"], m["run"], m["protocol_label"], _n(m["mean"]), m["published_model"], _n(m["published_value"]),
             m["harness"]] for m in result["published_matching"]
        ]))
    else:
        lines.append("(no run covers a full task file under a protocol with published numbers)")
    if result["unmatched_runs"]:
        lines += ["", "Runs not comparable with the published numbers below (reason given per row):", ""]
        lines.append(_table(["task", "run", "protocol", "metric", "mean", "items", "reason"], [
            [u["task"], u["run"], u["protocol_label"], u["metric"], _n(u["mean"]), str(u["items"]), u["reason"]]
            for u in result["unmatched_runs"]
        ]))
    lines += ["", "Published numbers, by protocol:", ""]
    lines.append(_table(["model", "task", "metric", "value", "protocol", "harness"], [
        [p["model"], p["task"], p["metric"], _n(p["value"]), p["protocol_label"], p["harness"]]
        for p in result["published"]
    ]))
    return "\n".join(lines) + "\n"


def _row_note(row: dict[str, Any]) -> str:
    if row.get("not_scored"):
        return f"not scored: {row['not_scored']}"
    return row.get("subset") or ""


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    render = lambda cells: "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([render(header), render(["-" * w for w in widths]), *(render(row) for row in rows)])


def _n(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"
