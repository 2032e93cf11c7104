"""`ctiforge corpus build` and `ctiforge corpus check`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

logger = logging.getLogger(__name__)


@click.group()
def corpus() -> None:
    """Build a decontaminated training corpus, or audit an existing one against benchmarks."""


@corpus.command("build")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Corpus config YAML; without it the defaults and the overrides make the config.")
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Output folder for corpus.jsonl, config.yaml, manifest.json and the reports.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output folder once the new build is complete.")
@click.option("--skip-invalid", is_flag=True, help="Skip invalid lines of user JSONL sources instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest's record counts as JSON.")
@click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
def build_command(*, config_path: Path | None, out: Path, overwrite: bool, skip_invalid: bool, as_json: bool,
                  overrides: tuple[str, ...]) -> None:
    """Build a chat-format JSONL corpus from the sources in a config.

    Decontamination against every configured benchmark file always runs.
    KEY=VALUE pairs override config keys by dotted path, for example
    `seed=3` or `records.cvss.enabled=true`. Values are parsed as YAML.
    Relative paths in the config file resolve against its data_dir key;
    `data_dir=FOLDER` points them at another folder.

    \b
    Examples:
      ctiforge corpus build --config configs/corpus.yaml --out build/corpus
      ctiforge corpus build --config configs/corpus.yaml --out build/corpus data_dir=/data
      ctiforge corpus build --config configs/corpus.yaml --out build/corpus \\
          decontamination.ctibench_dir=/data/cti-bench
    """
    from ctiforge.corpus import build_corpus, load_config

    config = load_config(config_path, overrides)
    result = build_corpus(config, out, overwrite=overwrite, skip_invalid=skip_invalid)
    manifest, report = result.manifest, result.report
    records = manifest["records"]
    for line in _skipped_summary(manifest["skipped"]):
        click.echo(line, err=True)
    if as_json:
        summary = {
            "out": str(result.out),
            "records": records,
            "answer_letters": manifest["answer_letters"],
            "removed_per_benchmark": {name: entry["records_removed"] for name, entry in report["benchmarks"].items()},
            "sha256": manifest["outputs"]["corpus.jsonl"]["sha256"],
        }
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{'kind':<28} {'records':>9}")
    for kind, count in records["by_kind"].items():
        click.echo(f"{kind:<28} {count:>9,}")
    click.echo(f"{'total':<28} {records['written']:>9,}")
    click.echo("")
    click.echo(f"{'benchmark':<28} {'removed':>9}")
    for name, entry in report["benchmarks"].items():
        click.echo(f"{name:<28} {entry['records_removed']:>9,}")
    click.echo(f"answer letters: {', '.join(f'{k} {v:,}' for k, v in manifest['answer_letters'].items())}")
    click.echo(f"wrote {result.out} in {result.timings['total']:.1f} s", err=True)


def _skipped_summary(skipped: dict[str, dict]) -> list[str]:
    """Format the manifest's skip counts as one line per source that skipped anything."""
    lines = []
    for source, counts in skipped.items():
        if source == "user":
            invalid = len(counts.get("invalid lines", []))
            if invalid:
                lines.append(f"skipped (user): {invalid:,} invalid line(s), listed in manifest.json")
            continue
        reasons = {reason: count for reason, count in counts.items() if reason != "read"}
        if not reasons:
            continue
        reason_counts = ", ".join(f"{reason} {count:,}" for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]))
        total = sum(reasons.values())
        of_read = f" of {counts['read']:,} records read" if "read" in counts else ""
        lines.append(f"skipped ({source}): {total:,}{of_read}: {reason_counts}")
    return lines


@corpus.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--against", "benchmarks", multiple=True, required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Benchmark TSV file to look for (repeat the option for several files).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True),
              help="Minimum share of a benchmark item's word shingles that a record must contain to count as a near-duplicate (default 0.5).")
@click.option("--skip-invalid", is_flag=True, help="Skip invalid JSONL lines and list them instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def check_command(*, file: Path, benchmarks: tuple[Path, ...], threshold: float | None, skip_invalid: bool,
                  as_json: bool) -> None:
    """Audit a prompt/response or chat-messages JSONL corpus for benchmark items.

    FILE may be gzip-compressed. A file without any readable record is an error.

    Exit status: 0 when no record contains a benchmark item, 1 when some do,
    2 when an input is missing or invalid.
    """
    from ctiforge.corpus import Decontamination, check_corpus

    settings = Decontamination(threshold=threshold) if threshold is not None else Decontamination()
    report = check_corpus(file, list(benchmarks), settings=settings, skip_invalid=skip_invalid)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for audit in report.benchmarks:
            click.echo(
                f"{audit.benchmark}: {audit.verbatim:,} of {audit.items:,} items present verbatim "
                f"({audit.same_label:,} with the same label), {audit.near_duplicate:,} more as near-duplicates, "
                f"{audit.cve_id:,} more by CVE ID; {audit.records:,} corpus records involved"
            )
        state = "clean" if report.clean else "CONTAMINATED"
        click.echo(f"{report.corpus}: {report.contaminated_records:,} of {report.records:,} records contain "
                   f"benchmark items: {state}")
        if report.skipped_lines:
            click.echo(f"skipped {len(report.skipped_lines)} invalid line(s): "
                       + ", ".join(str(entry["line"]) for entry in report.skipped_lines[:20]), err=True)
    if not report.clean:
        sys.exit(1)
