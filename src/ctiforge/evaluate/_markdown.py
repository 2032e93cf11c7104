"""Render an evaluation report as a Markdown summary."""

from __future__ import annotations

from typing import Any


def render_markdown(report: dict[str, Any]) -> str:
    """Return the Markdown summary of a report built by `build_report`."""
    settings = report["settings"]
    backend = report["backend"]
    lines = [
        f"# Evaluation of {backend.get('model')} ({backend.get('backend')})",
        "",
        f"- protocol: {settings.get('protocol')} (label `{report.get('protocol_label')}`), "
        f"trials: {settings.get('trials')}, temperature: {settings.get('temperature')}, "
        f"top_p: {settings.get('top_p')}, max_tokens: {settings.get('max_tokens')}, seed: {settings.get('seed')}",
        f"- preset: {settings.get('preset') or 'none'}; system prompt: {_quote(settings.get('system_prompt'))}",
        f"- ctiforge {report.get('ctiforge_version')}, report format {report.get('format_version')}, "
        f"written {report.get('created_at')}",
    ]
    if report.get("wall_s") is not None:
        lines.append(f"- wall time of the last invocation: {report['wall_s']:.1f} s")
    if report.get("imported_from"):
        lines.append(f"- imported from: {report['imported_from']}")
    lines += ["", "## Results", "",
              "| task | metric | rule | mean ± std | 95 % CI (items) | parse rate | trials | items | missing or failed |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, task in report["tasks"].items():
        if task.get("not_scored"):
            lines.append(f"| {name} | {task['primary_metric']} | – | not scored: {task['not_scored']} "
                         f"| n/a | n/a | 0 | {task['n_items']} | {task['failed'] + task['missing']} |")
        for rule, summary in task["summary"].items():
            interval = summary.get("ci95")
            ci = f"{interval[0]:.4f}–{interval[1]:.4f}" if interval else "n/a"
            lines.append(
                f"| {name} | {summary['metric']} | {rule} | {_number(summary['mean'])} ± {_number(summary['std'])} "
                f"| {ci} | {_number(summary['parse_rate'])} | {task['n_trials_scored']} | {task['n_items']} "
                f"| {task['failed'] + task['missing']} |"
            )
    for name, task in report["tasks"].items():
        lines += _task_details(name, task, (report.get("published") or {}).get(name))
    return "\n".join(lines) + "\n"


def _task_details(name: str, task: dict[str, Any], published: dict[str, Any] | None) -> list[str]:
    lines = ["", f"## {name}", ""]
    lines.append("| trial | " + " | ".join(f"{rule} {task['primary_metric']}" for rule in task["rules"]) + " |")
    lines.append("|---|" + "---|" * len(task["rules"]))
    for trial in task["trials"]:
        values = [_number(trial["metrics"].get(rule, {}).get(task["primary_metric"])) for rule in task["rules"]]
        lines.append(f"| {trial['trial']} | " + " | ".join(values) + " |")

    if published is not None:
        values = ", ".join(f"{value:.4f}" for value in published.get("trial_accuracies") or [])
        lines += ["", f"Imported run: only trials with raw outputs in the file are scored. "
                      f"Published accuracy per trial: {values or 'n/a'}."]
    elif task["failed"] or task["missing"]:
        lines += ["", f"{task['failed']} request(s) failed and {task['missing']} are missing; "
                      "rerun the same command to request them again."]
    if task.get("scored_from_recorded_answer"):
        lines += ["", f"{task['scored_from_recorded_answer']} imported response(s) were cut at 1,000 characters "
                      "and are scored from the answer the original harness recorded."]
    tokens = task.get("tokens") or {}
    if tokens.get("completion"):
        lines += ["", f"Tokens: {tokens.get('prompt', 0)} prompt, {tokens['completion']} completion."]

    check = task.get("catalog_check")
    if check:
        lines += ["", f"CWE catalog check of {check['predictions']} strict predictions (CWE {check.get('catalog_version')}): "
                      f"{check['unknown']} unknown, {check['deprecated']} deprecated, "
                      f"{check['prohibited']} prohibited for mapping."]
        for label in ("unknown", "deprecated", "prohibited"):
            listed = check.get(f"{label}_ids") or {}
            if listed:
                lines.append(f"- {label}: " + ", ".join(f"{k} ({v})" for k, v in listed.items()))

    breakdowns = task.get("breakdowns") or {}
    if breakdowns.get("top_gold_cwes"):
        lines += ["", "Accuracy (strict) by gold CWE, most frequent first:", "", "| gold CWE | items | accuracy |",
                  "|---|---|---|"]
        lines += [f"| {row['group']} | {row['n']} | {row['accuracy']:.3f} |" for row in breakdowns["top_gold_cwes"]]
    if breakdowns.get("by_source"):
        lines += ["", "Accuracy (strict) by question source:", "", "| source | items | accuracy |", "|---|---|---|"]
        lines += [f"| {row['group']} | {row['n']} | {row['accuracy']:.3f} |" for row in breakdowns["by_source"]]
    letters = breakdowns.get("letters")
    if letters:
        keys = sorted(set(letters["predicted"]) | set(letters["gold"]))
        lines += ["", "Answer letters (predicted counts are per trial):", "", "| letter | predicted | gold |",
                  "|---|---|---|"]
        lines += [f"| {k} | {letters['predicted'].get(k, 0):.1f} | {letters['gold'].get(k, 0)} |" for k in keys]
    return lines


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _quote(value: Any) -> str:
    return "none" if not value else f'"{value}"'
