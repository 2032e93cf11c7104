"""The Markdown form of the decontamination report."""

from __future__ import annotations

from typing import Any


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_markdown(report: dict[str, Any]) -> str:
    """Render a build's decontamination report as Markdown: a summary table, then examples per benchmark."""
    settings = report["settings"]
    lines = [
        "# Decontamination report",
        "",
        f"{report['records_removed']:,} of {report['records_checked']:,} generated records were removed. "
        f"A record is a near-duplicate of a benchmark item when it contains at least {settings['threshold']} of the "
        f"item's {settings['shingle_size']}-word shingles; items with fewer than {settings['min_shingles']} shingles "
        "match only a text equal to them.",
        "",
        "| benchmark | items | records removed | items matched | by reason | by source |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name, entry in report["benchmarks"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in entry["by_reason"].items()) or "-"
        sources = ", ".join(f"{k} {v}" for k, v in entry["by_source"].items()) or "-"
        lines.append(f"| {name} | {entry['items']:,} | {entry['records_removed']:,} | {entry['items_matched']:,} "
                     f"| {reasons} | {sources} |")
    for name, entry in report["benchmarks"].items():
        if not entry["examples"]:
            continue
        lines += ["", f"## {name}: examples", "", "| record | reason | score | benchmark row | benchmark text |",
                  "|---|---|---:|---:|---|"]
        for example in entry["examples"]:
            lines.append(f"| {_cell(example['id'])} | {example['reason']} | {example['score']} "
                         f"| {example['benchmark_row']} | {_cell(example['benchmark_text'])} |")
    return "\n".join(lines) + "\n"
