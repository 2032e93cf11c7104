"""`build_corpus`: sources to decontaminated chat JSONL with a manifest and a decontamination report.

The output folder is written under a temporary name beside the target and
renamed at the end, so an interrupted or failed build never leaves a folder
that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ctiforge import __version__
from ctiforge.corpus._config import CorpusConfig, benchmark_files, expand_paths
from ctiforge.corpus._decontam import REASON_ORDER, BenchmarkIndex, Hit
from ctiforge.corpus._records import TrainingRecord, assign_letters
from ctiforge.corpus._report import render_markdown
from ctiforge.errors import ConfigError, DataFormatError

if TYPE_CHECKING:
    from ctiforge.corpus._cve import CveStats

logger = logging.getLogger(__name__)

CORPUS_FILE = "corpus.jsonl"
MANIFEST_FILE = "manifest.json"
CONFIG_FILE = "config.yaml"
REPORT_JSON = "decontamination.json"
REPORT_MARKDOWN = "decontamination.md"


@dataclass
class BuildResult:
    """The result of a build: the output folder, the manifest and the decontamination report."""

    out: Path
    manifest: dict[str, Any]
    report: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def corpus_path(self) -> Path:
        return self.out / CORPUS_FILE


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Inputs:
    cve: list[Path]
    user: list[Path]
    catalog: Path | None
    attack: Path | None
    capec: Path | None
    benchmarks: list[Path]


def _resolve_inputs(config: CorpusConfig) -> _Inputs:
    """Find every input file, raising one error that lists all missing ones."""
    problems: list[str] = []

    def collect(patterns: list[str], file_kind: str) -> list[Path]:
        try:
            return expand_paths(patterns, file_kind=file_kind)
        except DataFormatError as exc:
            problems.append(str(exc))
            return []

    def single(value: str | None, file_kind: str) -> Path | None:
        if value is None:
            return None
        found = collect([value], file_kind)
        return found[0] if found else None

    sources = config.sources
    inputs = _Inputs(
        cve=collect(sources.cve.paths, "CVE source file"),
        user=collect(sources.user, "user JSONL file"),
        catalog=single(sources.cwe_catalog, "CWE catalog"),
        attack=single(sources.attack, "ATT&CK bundle"),
        capec=single(sources.capec, "CAPEC bundle"),
        benchmarks=[],
    )
    try:
        inputs.benchmarks = benchmark_files(config.decontamination)
    except DataFormatError as exc:
        problems.append(str(exc))
    if problems:
        if config.data_dir:
            problems.append(
                f"relative paths in the config file resolve against data_dir {config.data_dir}; "
                "pass data_dir=FOLDER if the input files are in another folder"
            )
        raise DataFormatError("; ".join(problems))
    return inputs


def _warn_empty_cve_source(stats: CveStats, fmt: str) -> None:
    """Log a warning for each CVE file without a readable record, and when the CVE source gives no record."""
    for path, readable in stats.readable_per_file.items():
        if readable == 0:
            logger.warning("CVE source file %s contains no readable CVE record (format %s); "
                           "check the file or set sources.cve.format", path, fmt)
    if stats.mapping_records + stats.cvss_records == 0:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in stats.skipped.most_common())
        logger.warning("CVE source gave no training records: %s CVE records read from %d file(s), all skipped (%s)",
                       f"{stats.read:,}", len(stats.readable_per_file), reasons or "none")


def _generate(config: CorpusConfig, inputs: _Inputs, *,
              skip_invalid: bool) -> tuple[list[TrainingRecord], dict[str, Any], dict[str, str]]:
    """Run every record builder, returning the records, skip statistics and the catalog used."""
    from ctiforge.corpus._cve import build_cve_records
    from ctiforge.corpus._cwe import build_cwe_records
    from ctiforge.corpus._mitre import build_attack_records, build_capec_records
    from ctiforge.corpus._user import build_user_records

    records: list[TrainingRecord] = []
    skipped: dict[str, Any] = {}
    catalog_info: dict[str, str] = {}
    records_cfg = config.records
    need_catalog = (
        (inputs.cve and records_cfg.cve_cwe.enabled)
        or records_cfg.cwe_questions.enabled
        or (inputs.capec and records_cfg.capec_questions.enabled and "weakness" in records_cfg.capec_questions.kinds)
    )
    catalog = None
    if need_catalog:
        from ctiforge.catalog import load_catalog

        catalog = load_catalog(inputs.catalog)
        catalog_info = {"version": str(catalog.version), "path": str(catalog.source)}

    if inputs.cve and (records_cfg.cve_cwe.enabled or records_cfg.cvss.enabled):
        cve_records, stats = build_cve_records(
            inputs.cve, fmt=config.sources.cve.format, catalog=catalog, mapping=records_cfg.cve_cwe,
            cvss=records_cfg.cvss, seed=config.seed,
        )
        records.extend(cve_records)
        skipped["cve"] = {"read": stats.read, **dict(sorted(stats.skipped.items()))}
        _warn_empty_cve_source(stats, config.sources.cve.format)
    if catalog is not None and records_cfg.cwe_questions.enabled:
        records.extend(build_cwe_records(catalog, records_cfg.cwe_questions, seed=config.seed))
    if inputs.attack and records_cfg.attack_questions.enabled:
        attack_records, left_out = build_attack_records(
            inputs.attack, records_cfg.attack_questions, seed=config.seed,
        )
        records.extend(attack_records)
        skipped["attack"] = left_out
    if inputs.capec and records_cfg.capec_questions.enabled:
        cwe_names = {e.id: e.name for e in catalog if e.kind == "weakness"} if catalog is not None else {}
        capec_records, left_out = build_capec_records(inputs.capec, records_cfg.capec_questions,
                                                      seed=config.seed, cwe_names=cwe_names)
        records.extend(capec_records)
        skipped["capec"] = left_out
    if inputs.user:
        user_records, invalid = build_user_records(inputs.user, skip_invalid=skip_invalid)
        records.extend(user_records)
        skipped["user"] = {"invalid lines": [{"file": str(path), "line": bad.line, "reason": bad.reason}
                                             for path, bad in invalid]}
    return records, skipped, catalog_info


def _decontaminate(records: list[TrainingRecord], index: BenchmarkIndex, *,
                   examples: int) -> tuple[list[TrainingRecord], dict[str, Any]]:
    hits_per_record = index.find([record.query for record in records])
    kept: list[TrainingRecord] = []
    removed_by_benchmark: dict[str, list[tuple[TrainingRecord, Hit]]] = defaultdict(list)
    removed_total = 0
    for record, hits in zip(records, hits_per_record):
        if not hits:
            kept.append(record)
            continue
        removed_total += 1
        # A record counts once per benchmark, under its strongest hit there.
        for benchmark in sorted({hit.item.benchmark for hit in hits}):
            strongest = min((hit for hit in hits if hit.item.benchmark == benchmark),
                            key=lambda hit: (REASON_ORDER.index(hit.reason), -hit.score, hit.item.row))
            removed_by_benchmark[benchmark].append((record, strongest))

    report: dict[str, Any] = {
        "settings": {
            "threshold": index.threshold,
            "min_shingles": index.min_shingles,
            "shingle_size": index.shingle_size,
        },
        "records_checked": len(records),
        "records_removed": removed_total,
        "benchmarks": {},
    }
    for name in index.benchmarks:
        removed = removed_by_benchmark.get(name, [])
        report["benchmarks"][name] = {
            "items": len(index.items_of(name)),
            "records_removed": len(removed),
            "by_reason": dict(sorted(Counter(hit.reason for _, hit in removed).items())),
            "by_source": dict(sorted(Counter(record.source for record, _ in removed).items())),
            "items_matched": len({hit.item.row for _, hit in removed}),
            "examples": [
                {
                    "id": record.id,
                    "source": record.source,
                    "kind": record.kind,
                    "reason": hit.reason,
                    "score": round(hit.score, 3),
                    "benchmark_row": hit.item.row,
                    "benchmark_text": hit.item.text[:200],
                    "record_text": (record.query.texts[0] if record.query.texts else "")[:200],
                }
                for record, hit in removed[:examples]
            ],
        }
    return kept, report


def _prepare_output(out: Path, overwrite: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output path {out} is a file; choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"output folder {out} is not empty; choose a new folder or pass --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))


def _publish(staging: Path, out: Path) -> None:
    """Replace `out` with the finished staging folder."""
    if out.exists():
        retired = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(retired)
        staging.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out)


def build_corpus(config: CorpusConfig, out: Path, *, overwrite: bool = False, skip_invalid: bool = False) -> BuildResult:
    """Build a decontaminated chat corpus into the folder `out`.

    Writes `corpus.jsonl`, the resolved `config.yaml`, `manifest.json` and the
    decontamination report as `decontamination.json` and `.md`. Decontamination
    against every configured benchmark file always runs.

    Raises:
        ConfigError: the output folder is not empty (without `overwrite`) or is a file.
        DataFormatError: an input is missing or unreadable; every missing input is listed.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    inputs = _resolve_inputs(config)
    staging = _prepare_output(out, overwrite)
    try:
        settings = config.decontamination
        index = BenchmarkIndex.from_files(inputs.benchmarks, threshold=settings.threshold,
                                          shingle_size=settings.shingle_size, min_shingles=settings.min_shingles)
        timings["benchmarks"] = time.perf_counter() - started
        logger.info("read %d items from %d benchmark files", len(index.items), len(inputs.benchmarks))

        mark = time.perf_counter()
        records, skipped, catalog_info = _generate(config, inputs, skip_invalid=skip_invalid)
        _check_unique_ids(records)
        timings["generate"] = time.perf_counter() - mark
        logger.info("generated %d records in %.1f s", len(records), timings["generate"])

        mark = time.perf_counter()
        kept, report = _decontaminate(records, index, examples=settings.examples)
        timings["decontaminate"] = time.perf_counter() - mark
        logger.info("decontamination removed %d of %d records", report["records_removed"], len(records))

        letters = assign_letters(kept, seed=config.seed)
        kept.sort(key=lambda record: record.id)
        random.Random(f"{config.seed}:order").shuffle(kept)

        mark = time.perf_counter()
        corpus_path = staging / CORPUS_FILE
        with corpus_path.open("w", encoding="utf-8") as handle:
            for record in kept:
                handle.write(json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
        config_text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        (staging / CONFIG_FILE).write_text(config_text, encoding="utf-8")
        manifest = _manifest(config, inputs, records, kept, report, letters, skipped, catalog_info,
                             corpus_path, config_text)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        (staging / REPORT_JSON).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (staging / REPORT_MARKDOWN).write_text(render_markdown(report), encoding="utf-8")
        timings["write"] = time.perf_counter() - mark
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    timings["total"] = time.perf_counter() - started
    logger.info("wrote %d records to %s in %.1f s", len(kept), out, timings["total"])
    return BuildResult(out=out, manifest=manifest, report=report, timings=timings)


def _check_unique_ids(records: list[TrainingRecord]) -> None:
    counts = Counter(record.id for record in records)
    duplicates = [record_id for record_id, count in counts.items() if count > 1]
    if duplicates:
        # The builders derive IDs from unique keys, so a repeat is a bug, not bad input.
        raise RuntimeError(f"duplicate record IDs: {', '.join(sorted(duplicates)[:5])}")


def _manifest(config: CorpusConfig, inputs: _Inputs, generated: list[TrainingRecord], kept: list[TrainingRecord],
              report: dict[str, Any], letters: dict[str, int], skipped: dict[str, Any],
              catalog_info: dict[str, str], corpus_path: Path, config_text: str) -> dict[str, Any]:
    def count(records: list[TrainingRecord], key: str) -> dict[str, int]:
        return dict(sorted(Counter(getattr(record, key) for record in records).items()))

    input_files: list[dict[str, Any]] = []
    for role, paths in (("cve", inputs.cve), ("user", inputs.user), ("attack", [inputs.attack] if inputs.attack else []),
                        ("capec", [inputs.capec] if inputs.capec else []), ("benchmark", inputs.benchmarks)):
        for path in paths:
            input_files.append({"role": role, "path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    if catalog_info:
        catalog_path = Path(catalog_info["path"])
        input_files.append({"role": "cwe-catalog", "path": str(catalog_path), "bytes": catalog_path.stat().st_size,
                            "sha256": sha256_file(catalog_path), "version": catalog_info["version"]})

    kept_ids = {record.id for record in kept}
    removed = [record for record in generated if record.id not in kept_ids]
    labels = Counter(record.provenance.get("cwe") for record in kept if record.kind == "cve-cwe")
    return {
        "ctiforge_version": __version__,
        "seed": config.seed,
        "config_sha256": hashlib.sha256(config_text.encode("utf-8")).hexdigest(),
        "inputs": input_files,
        "outputs": {CORPUS_FILE: {"records": len(kept), "sha256": sha256_file(corpus_path)}},
        "records": {
            "generated": len(generated),
            "removed_by_decontamination": report["records_removed"],
            "written": len(kept),
            "by_source": count(kept, "source"),
            "by_kind": count(kept, "kind"),
            "removed_by_source": count(removed, "source"),
            "removed_by_kind": count(removed, "kind"),
        },
        "label_histogram": dict(sorted(labels.items(), key=lambda item: (-item[1], item[0]))),
        "answer_letters": letters,
        "skipped": skipped,
    }
