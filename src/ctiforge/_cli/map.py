"""`ctiforge map`: map CVE or advisory text to CWE with the embedded CPU mapper."""

from __future__ import annotations

import csv
import json
import logging
import sys
import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import click

from ctiforge.errors import CtiforgeError, DataFormatError
from ctiforge.sources import (
    DEFAULT_MAX_CHARS,
    FORMATS,
    NVD_PLACEHOLDERS,
    CveRecord,
    RecordStream,
    SkippedRecord,
    read_records,
    text_record,
)

logger = logging.getLogger(__name__)

# Descriptions sent to the mapper per call: large enough to amortise the
# vectoriser's per-call overhead, small enough that results appear steadily.
BATCH_SIZE = 256
# Skipped records and truncation warnings printed one by one before only counting.
MAX_LISTED = 20
EVALUATION_K = 3


class _Mapper(Protocol):
    def predict(self, texts: list[str], *, k: int = 3, view: int | None = None) -> list[list[Any]]: ...


@dataclass
class MapSummary:
    """Counts for one `map` run."""

    read: int = 0
    mapped: int = 0
    truncated: int = 0
    skipped: list[SkippedRecord] = field(default_factory=list)
    error: CtiforgeError | None = None


def prediction_dict(prediction: Any, rank: int) -> dict[str, Any]:
    """Convert a mapper `Prediction` to a JSON-ready dict."""
    return {
        "rank": rank,
        "cwe_id": prediction.cwe_id,
        "name": prediction.name,
        "probability": round(float(prediction.probability), 4),
        "usage": prediction.usage,
        "discouraged": bool(prediction.discouraged),
        "rationale": prediction.rationale,
        "similar": list(prediction.similar),
    }


def agreement(record: CveRecord, predictions: list[Any]) -> str | None:
    """Compare the record's own CWE labels with the predictions.

    Returns "top-1" when the first prediction is one of the labels, "top-<k>"
    when a later one is, "none" when no prediction is, and None when the record
    carries no specific CWE (no label, or only NVD-CWE-Other/noinfo).
    """
    labels = set(record.specific_cwes)
    if not labels:
        return None
    predicted = [p.cwe_id for p in predictions]
    if predicted and predicted[0] in labels:
        return "top-1"
    if labels.intersection(predicted):
        return f"top-{len(predicted)}"
    return "none"


def result_dict(record: CveRecord, predictions: list[Any]) -> dict[str, Any]:
    """Build the JSON object for one mapped record."""
    return {
        "source": record.source,
        "locator": record.locator,
        "cve_id": record.cve_id,
        "input_cwes": record.cwes,
        "input_cwe_sources": record.cwe_sources,
        "agreement": agreement(record, predictions),
        "truncated": record.truncated,
        "predictions": [prediction_dict(p, rank) for rank, p in enumerate(predictions, start=1)],
    }


class _Writer:
    """Base class of the output formats; results go to `out` (stdout)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, record: CveRecord, predictions: list[Any]) -> None:
        raise NotImplementedError

    def close(self, summary: MapSummary) -> None:
        self.out.flush()


class _TableWriter(_Writer):
    def write(self, record: CveRecord, predictions: list[Any]) -> None:
        lines = [_table_heading(record)]
        if record.cwes:
            labels = ", ".join(f"{cwe} ({source})" for cwe, source in zip(record.cwes, record.cwe_sources))
            verdict = agreement(record, predictions)
            if verdict is None:
                note = "no specific CWE to compare"
            elif verdict == "none":
                note = "the prediction disagrees"
            else:
                note = f"the prediction agrees ({verdict})"
            lines.append(f"  input CWE: {labels}; {note}")
        name_width = 52
        for rank, p in enumerate(predictions, start=1):
            name = p.name if len(p.name) <= name_width else p.name[: name_width - 1] + "…"
            mark = "  [discouraged]" if p.discouraged else ""
            lines.append(f"  {rank}. {p.cwe_id:<9} {name:<{name_width}} {float(p.probability):6.3f}{mark}")
            if p.rationale:
                lines.extend(textwrap.wrap(p.rationale, width=96, initial_indent="       ",
                                           subsequent_indent="       ", max_lines=2, placeholder=" …"))
            if p.similar:
                lines.append(f"       similar: {', '.join(p.similar)}")
        if not predictions:
            lines.append("  (no CWE predicted)")
        self.out.write("\n".join(lines) + "\n\n")


def _table_heading(record: CveRecord) -> str:
    locator = "" if record.locator == record.cve_id else record.locator
    where = f"{record.source} {locator}".strip()
    if record.cve_id:
        heading = f"{record.cve_id}  ({where})"
    else:
        snippet = record.description if len(record.description) <= 70 else record.description[:69] + "…"
        heading = f"{where}: {snippet}"
    if record.truncated:
        heading += "  [description truncated]"
    return heading


class _JsonLinesWriter(_Writer):
    def write(self, record: CveRecord, predictions: list[Any]) -> None:
        self.out.write(json.dumps(result_dict(record, predictions), ensure_ascii=False) + "\n")


class _JsonWriter(_Writer):
    """One JSON document, written incrementally so a long batch never sits in memory."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self.count = 0
        self.out.write('{"results": [')

    def write(self, record: CveRecord, predictions: list[Any]) -> None:
        separator = ",\n  " if self.count else "\n  "
        self.out.write(separator + json.dumps(result_dict(record, predictions), ensure_ascii=False))
        self.count += 1

    def close(self, summary: MapSummary) -> None:
        skipped = [
            {"source": s.source, "locator": s.locator, "cve_id": s.cve_id, "reason": s.reason, "code": s.code}
            for s in summary.skipped
        ]
        self.out.write("\n],\n")
        self.out.write(f'"skipped": {json.dumps(skipped, ensure_ascii=False)},\n')
        self.out.write(f'"summary": {json.dumps(_summary_dict(summary))}\n}}\n')
        super().close(summary)


class _CsvWriter(_Writer):
    COLUMNS = ("source", "locator", "cve_id", "rank", "cwe_id", "name", "probability", "usage",
               "discouraged", "input_cwes", "agreement", "rationale", "similar")

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(self.COLUMNS)

    def write(self, record: CveRecord, predictions: list[Any]) -> None:
        verdict = agreement(record, predictions)
        for rank, p in enumerate(predictions, start=1):
            self.writer.writerow([
                record.source, record.locator, record.cve_id or "", rank, p.cwe_id, p.name,
                f"{float(p.probability):.4f}", p.usage or "", "yes" if p.discouraged else "no",
                ";".join(record.cwes), verdict or "", p.rationale, ";".join(p.similar),
            ])


@dataclass
class _Evaluation:
    """Accuracy of the predictions against the CWE labels that the input carries."""

    evaluated: int = 0
    top1: int = 0
    top3: int = 0
    placeholder_only: int = 0
    unlabelled: int = 0

    def add(self, record: CveRecord, predictions: list[Any]) -> None:
        labels = set(record.specific_cwes)
        if not labels:
            if record.cwes:
                self.placeholder_only += 1
            else:
                self.unlabelled += 1
            return
        predicted = [p.cwe_id for p in predictions]
        self.evaluated += 1
        self.top1 += bool(predicted[:1] and predicted[0] in labels)
        self.top3 += bool(labels.intersection(predicted[:EVALUATION_K]))

    def report(self) -> dict[str, Any]:
        def ratio(hits: int) -> float | None:
            return round(hits / self.evaluated, 4) if self.evaluated else None

        return {
            "evaluated": self.evaluated,
            "top1_correct": self.top1,
            "top3_correct": self.top3,
            "top1_accuracy": ratio(self.top1),
            "top3_accuracy": ratio(self.top3),
            "excluded_nvd_placeholder_only": self.placeholder_only,
            "unlabelled": self.unlabelled,
        }


class _EvaluationWriter(_Writer):
    def __init__(self, out: TextIO, *, as_json: bool, input_name: str) -> None:
        super().__init__(out)
        self.as_json = as_json
        self.input_name = input_name
        self.evaluation = _Evaluation()

    def write(self, record: CveRecord, predictions: list[Any]) -> None:
        self.evaluation.add(record, predictions)

    def close(self, summary: MapSummary) -> None:
        report = {"input": self.input_name, **self.evaluation.report(), "summary": _summary_dict(summary)}
        if self.as_json:
            self.out.write(json.dumps(report, indent=2) + "\n")
        else:
            self.out.write(_format_evaluation(report) + "\n")
        super().close(summary)


def _format_evaluation(report: dict[str, Any]) -> str:
    def accuracy(key: str, hits: str) -> str:
        value = report[key]
        if value is None:
            return "n/a"
        return f"{value:.3f}  ({report[hits]:,} of {report['evaluated']:,})"

    rows = [
        ("input", report["input"]),
        ("records mapped", f"{report['summary']['mapped']:,}"),
        ("evaluated (with a specific CWE)", f"{report['evaluated']:,}"),
        ("excluded (only NVD-CWE-Other/noinfo)", f"{report['excluded_nvd_placeholder_only']:,}"),
        ("without any CWE label", f"{report['unlabelled']:,}"),
        ("skipped records", f"{report['summary']['skipped']:,}"),
        ("top-1 accuracy", accuracy("top1_accuracy", "top1_correct")),
        ("top-3 accuracy", accuracy("top3_accuracy", "top3_correct")),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _summary_dict(summary: MapSummary) -> dict[str, Any]:
    return {
        "read": summary.read,
        "mapped": summary.mapped,
        "truncated": summary.truncated,
        "skipped": len(summary.skipped),
        "skipped_by_reason": dict(Counter(s.code for s in summary.skipped)),
    }


def _make_writer(output: str, *, evaluate: bool, input_name: str) -> _Writer:
    out = sys.stdout
    if evaluate:
        return _EvaluationWriter(out, as_json=output in ("json", "jsonl"), input_name=input_name)
    if output == "json":
        return _JsonWriter(out)
    if output == "jsonl":
        return _JsonLinesWriter(out)
    if output == "csv":
        return _CsvWriter(out)
    return _TableWriter(out)


class _Diagnostics:
    """Warnings on stderr that do not break the progress bar, limited to MAX_LISTED lines."""

    def __init__(self, bar: Any | None, verbose: bool) -> None:
        self.bar = bar
        self.verbose = verbose
        self.truncation_notes = 0

    def echo(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            click.echo(message, err=True)

    def truncated(self, record: CveRecord, max_chars: int) -> None:
        self.truncation_notes += 1
        if self.truncation_notes <= MAX_LISTED or self.verbose:
            self.echo(f"warning: {record.where}: the description is longer than {max_chars:,} characters; "
                      f"only the first {max_chars:,} were mapped (raise --max-chars to map more)")


def run_map(
    records: Iterable[CveRecord | SkippedRecord],
    mapper: _Mapper,
    writer: _Writer,
    *,
    k: int,
    view: int | None,
    max_chars: int,
    diagnostics: _Diagnostics,
    progress: Any | None = None,
) -> MapSummary:
    """Map every record in batches and write each result as soon as its batch is done.

    A `CtiforgeError` from the reader, such as a file that turns out unreadable
    part way, stops reading. The records read before it are still mapped and
    written, and the error is stored in `summary.error` for the caller to raise.
    """
    summary = MapSummary()
    batch: list[CveRecord] = []

    def flush() -> None:
        if not batch:
            return
        results = mapper.predict([r.description for r in batch], k=k, view=view)
        for record, predictions in zip(batch, results):
            writer.write(record, list(predictions))
        summary.mapped += len(batch)
        batch.clear()

    iterator = iter(records)
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            break
        except CtiforgeError as exc:
            summary.error = exc
            break
        summary.read += 1
        if progress is not None:
            total = getattr(records, "total", None)
            if total is not None and progress.total != total:
                progress.total = total
                progress.refresh()
            progress.update(1)
        if isinstance(record, SkippedRecord):
            summary.skipped.append(record)
            continue
        if record.truncated:
            summary.truncated += 1
            diagnostics.truncated(record, max_chars)
        batch.append(record)
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()
    return summary


def _report_skipped(summary: MapSummary, *, verbose: bool) -> None:
    if summary.truncated > MAX_LISTED and not verbose:
        click.echo(f"warning: {summary.truncated:,} descriptions were truncated "
                   f"({MAX_LISTED} listed above; -v lists all)", err=True)
    if not summary.skipped:
        return
    counts = Counter(s.code for s in summary.skipped)
    by_reason = ", ".join(f"{count:,} {code}" for code, count in counts.most_common())
    click.echo(f"skipped {len(summary.skipped):,} of {summary.read:,} records ({by_reason}):", err=True)
    listed = summary.skipped if verbose else summary.skipped[:MAX_LISTED]
    for skipped in listed:
        click.echo(f"  {skipped.where}: {skipped.reason}", err=True)
    hidden = len(summary.skipped) - len(listed)
    if hidden:
        click.echo(f"  … and {hidden:,} more (-v lists all)", err=True)


def _resolve_input(texts: tuple[str, ...], file: str | None) -> tuple[str | None, str | None]:
    """Return (description, path): exactly one of them is set."""
    if texts and file is not None:
        raise click.UsageError("give either a description or --file, not both")
    if file is not None:
        return None, file
    if texts == ("-",):
        return None, "-"
    if texts:
        return " ".join(texts), None
    if not sys.stdin.isatty():
        return None, "-"
    raise click.UsageError('give a description, --file PATH, or pipe text on stdin; for example: ctiforge map "SQL injection in login.php"')


def _progress_bar(enabled: bool | None, *, single: bool) -> Any | None:
    show = sys.stderr.isatty() if enabled is None else enabled
    if single or not show:
        return None
    from tqdm import tqdm

    return tqdm(total=None, unit="rec", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def _load_mapper(model: Path | None) -> _Mapper:
    from ctiforge.mapper import load_mapper

    return load_mapper(path=model)


@click.command("map")
@click.argument("texts", nargs=-1, metavar="[DESCRIPTION]...")
@click.option("-f", "--file", "file", metavar="PATH",
              help="Read descriptions from PATH: a file, a folder of CVE JSON 5 records, or - for stdin.")
@click.option("--format", "input_format", type=click.Choice(FORMATS), default=None,
              help="Input format of --file; detected from the name and content when left out.")
@click.option("--paragraphs", is_flag=True,
              help="Plain text: one description per blank-line-separated paragraph "
                   "(default: one description per line).")
@click.option("--text-column", default=None, metavar="NAME",
              help="CSV column or JSONL field with the description (default: description, text or summary).")
@click.option("--id-column", default=None, metavar="NAME",
              help="CSV column or JSONL field with the record ID; a CVE ID inside it, as in a URL, is extracted.")
@click.option("--label-column", default=None, metavar="NAME",
              help="CSV column or JSONL field with known CWE labels, for comparison and --evaluate.")
@click.option("-k", "k", type=click.IntRange(min=1, max=50), default=3, show_default=True,
              help="Number of CWEs to print per description.")
@click.option("--view", type=int, default=None, metavar="ID",
              help="Return only CWEs of this catalog view; the embedded mapper supports 1003, the view NVD maps to.")
@click.option("--model", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
              help="Mapper folder to use instead of the shipped model.")
@click.option("--table", "output", flag_value="table", default=True, help="Print a readable table (default).")
@click.option("--json", "output", flag_value="json", help="Print one JSON document with results, skips and counts.")
@click.option("--jsonl", "output", flag_value="jsonl", help="Print one JSON object per description.")
@click.option("--csv", "output", flag_value="csv", help="Print CSV with one row per predicted CWE.")
@click.option("--evaluate", is_flag=True,
              help="Print top-1 and top-3 accuracy against the CWE labels the input carries, instead of each result.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr (default: only when stderr is a terminal).")
@click.option("--max-chars", type=click.IntRange(min=1), default=DEFAULT_MAX_CHARS, show_default=True,
              help="Truncate longer descriptions to this many characters, with a warning.")
def map_command(
    texts: tuple[str, ...], file: str | None, input_format: str | None, paragraphs: bool,
    text_column: str | None, id_column: str | None, label_column: str | None, k: int,
    view: int | None, model: Path | None, output: str, evaluate: bool, progress: bool | None,
    max_chars: int,
) -> None:
    """Map CVE or advisory descriptions to the most likely CWE weaknesses.

    Give a description as an argument, a file with --file, or text on stdin.
    --file reads plain text, NVD JSON 1.1 feeds (.json or .json.gz), NVD API
    2.0 responses and records, CVE JSON 5 records (one, a list, or a folder),
    CSV and JSONL. Each result lists the top K CWEs with a calibrated
    probability and a rationale. Where the input carries its own CWE, the
    output shows it and whether the prediction agrees.

    Exit status: 0 when at least one description was mapped, 2 when none was
    (every record skipped) or the input is unreadable.

    \b
    Examples:
      ctiforge map "Buffer overflow in the PNG decoder allows remote code execution."
      ctiforge map --file advisories.txt --paragraphs --jsonl
      ctiforge map --file nvdcve-1.1-2018.json.gz --evaluate
      ctiforge map --file cves.csv --text-column summary --id-column cve --csv
    """
    verbose = logging.getLogger().isEnabledFor(logging.INFO)
    description, path = _resolve_input(texts, file)
    if evaluate and description is not None:
        raise click.UsageError("--evaluate needs labelled input from --file (NVD or CVE JSON, or a CSV/JSONL label column)")

    if description is not None:
        first = text_record(description, source="argument", locator="", max_chars=max_chars)
        if isinstance(first, SkippedRecord):
            raise DataFormatError(f"the description argument is not usable: {first.reason}; pass the text to map")
        records: Iterable[CveRecord | SkippedRecord] = [first]
        input_name = "argument"
    else:
        assert path is not None
        records = read_records(
            path, format=input_format, text_column=text_column, id_column=id_column,
            label_column=label_column, text_mode="paragraphs" if paragraphs else "lines", max_chars=max_chars,
        )
        input_name = "<stdin>" if path == "-" else path
        # A file that cannot be read at all should fail before the model loads.
        records.read_ahead()

    mapper = _load_mapper(model)
    if view is not None:
        # Check the view on a one-word probe so an unsupported view fails before any output.
        mapper.predict(["probe"], k=1, view=view)
    writer = _make_writer(output, evaluate=evaluate, input_name=input_name)
    bar = _progress_bar(progress, single=description is not None)
    diagnostics = _Diagnostics(bar, verbose)
    try:
        summary = run_map(records, mapper, writer, k=max(k, EVALUATION_K) if evaluate else k, view=view,
                          max_chars=max_chars, diagnostics=diagnostics, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    writer.close(summary)
    _report_skipped(summary, verbose=verbose)

    if summary.error is not None:
        raise summary.error
    if summary.mapped == 0:
        if summary.read == 0:
            raise DataFormatError(f"{input_name}: no descriptions found; check the file and --format")
        raise DataFormatError(f"{input_name}: nothing mapped, all {summary.read:,} records were skipped (listed above)")
    if isinstance(records, RecordStream) and records.format is not None:
        logger.info("read %s as %s", input_name, records.format)
    if evaluate and isinstance(writer, _EvaluationWriter) and writer.evaluation.evaluated == 0:
        raise DataFormatError(
            f"{input_name}: no record carries a specific CWE label, so there is nothing to evaluate; "
            "use NVD or CVE JSON input, or name a CSV/JSONL column with --label-column"
        )

