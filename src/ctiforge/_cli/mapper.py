"""`ctiforge mapper`: train the embedded CWE mapper or print what a mapper folder contains."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ctiforge.errors import DataFormatError
from ctiforge.sources import FORMATS, CveRecord, SkippedRecord, read_exclusions, read_records

logger = logging.getLogger(__name__)

# Options that take every following value up to the next option, so a shell
# glob such as `--nvd feeds/*.json.gz` works as well as repeating the option.
_MULTI_VALUE_OPTIONS = ("--nvd", "--exclude")


class _MultiValueCommand(click.Command):
    """A command whose `_MULTI_VALUE_OPTIONS` accept several values after one flag."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _expand_multi_values(args))


def _expand_multi_values(args: list[str]) -> list[str]:
    """Rewrite `--nvd a b --out d` as `--nvd a --nvd b --out d`."""
    expanded: list[str] = []
    current: str | None = None
    for arg in args:
        if arg == "--":
            current = None
            expanded.append(arg)
        elif arg in _MULTI_VALUE_OPTIONS:
            current = arg
        elif arg.split("=", 1)[0] in _MULTI_VALUE_OPTIONS:
            current = arg.split("=", 1)[0]
            expanded.append(arg)
        elif arg.startswith("-") and arg != "-":
            current = None
            expanded.append(arg)
        elif current is not None:
            expanded.extend([current, arg])
        else:
            expanded.append(arg)
    return expanded


@click.group()
def mapper() -> None:
    """Train the embedded CWE mapper or print what a mapper folder contains.

    \b
    Examples:
      ctiforge mapper train --nvd nvd/nvdcve-1.1-*.json.gz --exclude cti-rcm.tsv cti-rcm-2021.tsv --out my-mapper
      ctiforge mapper info --model my-mapper --json
    """


class _TrainingRecords:
    """The (cve_id, description, cwes) triples of every feed, read lazily, with counts."""

    def __init__(self, feeds: tuple[str, ...], input_format: str | None) -> None:
        self.feeds = feeds
        self.input_format = input_format
        self.counts: Counter[str] = Counter()
        self.skipped: list[SkippedRecord] = []

    def __iter__(self) -> Iterator[tuple[str, str, list[str]]]:
        for feed in self.feeds:
            for record in read_records(feed, format=self.input_format):
                if isinstance(record, SkippedRecord):
                    self.skipped.append(record)
                    continue
                yield from self._labelled(record)

    def _labelled(self, record: CveRecord) -> Iterator[tuple[str, str, list[str]]]:
        labels = record.specific_cwes
        if not labels:
            # Records with no CWE, or only NVD-CWE-Other/noinfo, teach no class.
            self.counts["no specific CWE" if not record.cwes else "only NVD-CWE-Other/noinfo"] += 1
            return
        self.counts["labelled"] += 1
        identifier = record.cve_id or f"{record.source}:{record.locator}"
        yield identifier, record.description, labels


@mapper.command("train", cls=_MultiValueCommand)
@click.option("--nvd", "feeds", multiple=True, required=True, metavar="FEED...",
              help="Labelled training input: NVD JSON 1.1 feeds, NVD API 2.0 or CVE JSON 5 files or folders. "
                   "Takes several paths after one flag.")
@click.option("--exclude", "exclude", multiple=True, metavar="TSV...",
              help="Benchmark TSV files (CTIBench layout) whose CVE IDs and descriptions must stay out of training.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write the trained mapper to.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for training.")
@click.option("--format", "input_format", type=click.Choice(FORMATS), default=None,
              help="Format of every --nvd input; detected per file when left out.")
@click.option("--progress/--no-progress", default=None,
              help="Show progress on stderr (default: only when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the training report as JSON.")
def train(feeds: tuple[str, ...], exclude: tuple[str, ...], out_dir: Path, seed: int,
          input_format: str | None, progress: bool | None, as_json: bool) -> None:
    """Train a mapper on labelled CVE records and write it to --out.

    Records whose CVE ID or description appears in an --exclude file are left
    out, so the mapper can be evaluated on that benchmark afterwards.
    """
    from ctiforge.mapper import train_mapper

    for feed in feeds:
        if not Path(feed).exists():
            raise DataFormatError(f"{feed}: file not found; check the --nvd path")
    exclusions = read_exclusions(list(exclude))
    if exclude:
        click.echo(f"excluding {len(exclusions.ids):,} CVE IDs and {len(exclusions.texts):,} descriptions "
                   f"from {len(exclusions.files)} file(s)", err=True)

    records = _TrainingRecords(feeds, input_format)
    show_progress = sys.stderr.isatty() if progress is None else progress
    report = train_mapper(records, out_dir=out_dir, exclude_ids=exclusions.ids,
                          exclude_texts=exclusions.texts, seed=seed, progress=show_progress)
    if records.counts["labelled"] == 0:
        raise DataFormatError("no --nvd input carries a specific CWE label, so there is nothing to train on")

    full_report = {
        "out_dir": str(out_dir),
        "inputs": list(feeds),
        "exclude_files": exclusions.files,
        "records": dict(records.counts),
        "skipped_records": len(records.skipped),
        "skipped_by_reason": dict(Counter(s.code for s in records.skipped)),
        "mapper": _without_id_list(report),
    }
    if as_json:
        click.echo(json.dumps(full_report, indent=2, default=str))
    else:
        click.echo(_format_mapping(full_report))


@mapper.command("info")
@click.option("--model", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
              help="Mapper folder to describe instead of the shipped model.")
@click.option("--json", "as_json", is_flag=True, help="Print the information as JSON.")
def info(model: Path | None, as_json: bool) -> None:
    """Print a mapper's training data, method, classes and sizes."""
    from ctiforge.mapper import load_mapper

    details = load_mapper(path=model).info()
    if as_json:
        click.echo(json.dumps(details, indent=2, default=str))
    else:
        click.echo(_format_mapping(details))


def _without_id_list(report: dict[str, Any]) -> dict[str, Any]:
    """Replace the manifest's full list of training CVE IDs with its length for printing."""
    if isinstance(report.get("training_ids"), list):
        report = {**report, "training_ids": len(report["training_ids"])}
    return report


def _format_mapping(data: dict[str, Any], indent: int = 0) -> str:
    """Render a nested dict as aligned `key  value` lines; lists of scalars stay on one line."""
    lines: list[str] = []
    width = max((len(str(key)) for key in data), default=0)
    for key, value in data.items():
        prefix = " " * indent + f"{str(key):<{width}}"
        if isinstance(value, dict) and value:
            lines.append(" " * indent + str(key))
            lines.append(_format_mapping(value, indent + 2))
        elif isinstance(value, list) and len(value) > 12:
            first_values = ", ".join(str(v) for v in value[:12])
            lines.append(f"{prefix}  {first_values}, … ({len(value):,} in all)")
        elif isinstance(value, list):
            lines.append(f"{prefix}  {', '.join(str(v) for v in value)}")
        else:
            lines.append(f"{prefix}  {value}")
    return "\n".join(lines)
