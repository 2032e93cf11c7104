"""Score a run folder and write `report.json`, `report.md` and PNG plots."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ctiforge import __version__
from ctiforge.evaluate._settings import RULES, EvalSettings, protocol_label
from ctiforge.evaluate._stats import bootstrap_interval, mean_std, metric_from_rows
from ctiforge.evaluate._store import (
    RUN_FILE,
    ResponseKey,
    StoredResponse,
    _write_atomic,
    read_responses,
    read_run_info,
)

logger = logging.getLogger(__name__)

REPORT_FORMAT = "ctiforge-eval-report"
REPORT_FORMAT_VERSION = 1
REPORT_JSON = "report.json"
REPORT_MARKDOWN = "report.md"
PLOTS_DIR = "plots"
TOP_GOLD_CWES = 20
_ROW_FIXED_KEYS = ("item_id", "index", "gold", "parsed", "step")


def build_report(
    run_dir: str | Path,
    *,
    settings: EvalSettings,
    loaded: Mapping[str, Any],
    backend_info: Mapping[str, Any],
    wall_s: float | None = None,
) -> dict[str, Any]:
    """Score every stored response of the run and return the report as JSON-ready data."""
    run_info = read_run_info(run_dir)
    stored = read_responses(run_dir)
    tasks = {}
    for name, data in loaded.items():
        tasks[name] = _task_report(name, data, settings, stored)
    settings_dict = json.loads(json.dumps(settings.as_dict()))
    return {
        "format": REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "ctiforge_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_dir": str(run_dir),
        "run_created_at": run_info.get("created_at"),
        "config_hash": run_info.get("config_hash"),
        "settings": settings_dict,
        "protocol_label": protocol_label(settings_dict),
        "backend": dict(backend_info),
        "wall_s": None if wall_s is None else round(wall_s, 3),
        "imported_from": run_info.get("imported_from"),
        "published": run_info.get("published"),
        "tasks": tasks,
    }


def _task_report(
    name: str, data: Any, settings: EvalSettings, stored: Mapping[ResponseKey, StoredResponse]
) -> dict[str, Any]:
    task, items = data.task, data.items
    # A task without gold answers keeps its raw outputs in the report but gets no metrics.
    not_scored = getattr(data, "not_scored", None)
    by_item_trial: dict[tuple[str, int], StoredResponse] = {}
    for key, response in stored.items():
        if key.task == name:
            previous = by_item_trial.get((key.item_id, key.trial))
            # Several prompt hashes for one item and trial happen only when the
            # data file changed; the latest successful line is the one scored.
            if previous is None or response.ok or not previous.ok:
                by_item_trial[(key.item_id, key.trial)] = response
    rules = [rule for rule in RULES if rule in task.rules] or [task.default_rule]

    trials_out = []
    per_trial_rows: dict[str, list[list[dict[str, Any]]]] = {rule: [] for rule in rules}
    item_trials: list[list[dict[str, Any]]] = [[] for _ in items]
    tokens = Counter()
    failed = missing = recorded_answers = 0
    for trial in range(settings.trials):
        responses: list[str | None] = []
        received = 0
        for position, item in enumerate(items):
            response = by_item_trial.get((item.item_id, trial))
            text = response.scored_text if response is not None and response.ok else None
            responses.append(text)
            if response is None:
                missing += 1
                continue
            if not response.ok:
                failed += 1
            else:
                received += 1
                recorded_answers += "scored_text" in response.record
                tokens["prompt"] += response.record.get("prompt_tokens") or 0
                tokens["completion"] += response.record.get("completion_tokens") or 0
            item_trials[position].append({"trial": trial, "text": response.text, "error": response.error,
                                          "finish_reason": response.record.get("finish_reason")})
        if received == 0 or not_scored:
            trials_out.append({"trial": trial, "n_responses": received, "metrics": {}})
            continue
        metrics = {}
        for rule in rules:
            score = task.score(items, responses, rule=rule)
            metrics[rule] = {k: _clean(v) for k, v in score.metrics.items()}
            per_trial_rows[rule].append(score.per_item)
            for position, row in enumerate(score.per_item):
                entry = _trial_entry(item_trials[position], trial)
                if entry is None:
                    continue
                entry.setdefault("parsed", {})[rule] = row.get("parsed")
                entry.setdefault("measures", {})[rule] = {
                    k: _clean(v) for k, v in row.items() if k not in _ROW_FIXED_KEYS
                }
        trials_out.append({"trial": trial, "n_responses": received, "metrics": metrics})

    scored_trials = [t for t in trials_out if t["metrics"]]
    summary = {}
    for rule in [] if not_scored else rules:
        values = [t["metrics"][rule].get(task.primary_metric) for t in scored_trials]
        parse_rates = [t["metrics"][rule].get("parse_rate") for t in scored_trials]
        mean, std = mean_std(values)
        statistic = metric_from_rows(task.primary_metric, per_trial_rows[rule])
        interval = bootstrap_interval(statistic, len(items)) if scored_trials else None
        summary[rule] = {
            "metric": task.primary_metric,
            "trial_values": [_clean(v) for v in values],
            "mean": _clean(mean),
            "std": _clean(std),
            "ci95": None if interval is None else [_clean(interval[0]), _clean(interval[1])],
            "parse_rate": _clean(mean_std(parse_rates)[0]),
        }

    report: dict[str, Any] = {
        "primary_metric": task.primary_metric,
        "higher_is_better": task.higher_is_better,
        "rules": rules,
        "n_items": len(items),
        "n_items_total": len(getattr(data, "pool", items)),
        "not_scored": not_scored,
        "n_trials_scored": len(scored_trials),
        "failed": failed,
        "missing": missing,
        "scored_from_recorded_answer": recorded_answers,
        "complete": failed == 0 and missing == 0,
        "tokens": dict(tokens),
        "summary": summary,
        "trials": trials_out,
        "breakdowns": _breakdowns(name, items, per_trial_rows.get("strict") or next(iter(per_trial_rows.values()))),
        "items": [
            {"item_id": item.item_id, "index": item.index, "gold": item.gold, "url": item.url, "trials": trials}
            for item, trials in zip(items, item_trials)
        ],
    }
    if name.startswith("cti-rcm"):
        report["catalog_check"] = _catalog_check(per_trial_rows.get("strict") or [])
    return report


def _trial_entry(entries: list[dict[str, Any]], trial: int) -> dict[str, Any] | None:
    for entry in reversed(entries):
        if entry["trial"] == trial:
            return entry
    return None


def _breakdowns(name: str, items: Sequence[Any], rows_by_trial: list[list[dict[str, Any]]]) -> dict[str, Any]:
    if not rows_by_trial:
        return {}
    if name.startswith("cti-rcm"):
        return {"top_gold_cwes": _accuracy_by(items, rows_by_trial, lambda item: str(item.gold), top=TOP_GOLD_CWES)}
    if name == "cti-mcq":
        letters_predicted = Counter(str(row.get("parsed")) if row.get("parsed") else "none"
                                    for rows in rows_by_trial for row in rows)
        letters_gold = Counter(str(item.gold) for item in items)
        trials = len(rows_by_trial)
        return {
            "by_source": _accuracy_by(items, rows_by_trial, question_source),
            "letters": {
                "predicted": {k: v / trials for k, v in sorted(letters_predicted.items())},
                "gold": dict(sorted(letters_gold.items())),
            },
        }
    return {}


def question_source(item: Any) -> str:
    """Return the knowledge base an MCQ item comes from, read from its URL."""
    url = (item.url or "").lower()
    if "attack.mitre.org" in url:
        return "ATT&CK"
    if "capec.mitre.org" in url:
        return "CAPEC"
    if "cwe.mitre.org" in url:
        return "CWE"
    return "other"


def _accuracy_by(items: Sequence[Any], rows_by_trial: list[list[dict[str, Any]]], group_of: Any,
                 top: int | None = None) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter(group_of(item) for item in items)
    correct: Counter[str] = Counter()
    for rows in rows_by_trial:
        for item, row in zip(items, rows):
            correct[group_of(item)] += bool(row.get("correct"))
    groups = counts.most_common(top)
    trials = len(rows_by_trial)
    return [{"group": group, "n": n, "accuracy": correct[group] / (n * trials)} for group, n in groups]


def _catalog_check(rows_by_trial: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Count predicted CWE IDs that are unknown, deprecated or prohibited for mapping in the CWE catalog."""
    from ctiforge.catalog import load_catalog

    catalog = load_catalog()
    predicted = Counter(row["parsed"] for rows in rows_by_trial for row in rows if row.get("parsed"))
    unknown, deprecated, prohibited = {}, {}, {}
    for cwe_id, count in predicted.items():
        entry = catalog.find(cwe_id)
        if entry is None:
            unknown[cwe_id] = count
            continue
        if entry.status == "Deprecated":
            deprecated[cwe_id] = count
        if entry.mapping_usage == "Prohibited":
            prohibited[cwe_id] = count
    return {
        "catalog_version": getattr(catalog, "version", None),
        "predictions": sum(predicted.values()),
        "unknown": sum(unknown.values()),
        "deprecated": sum(deprecated.values()),
        "prohibited": sum(prohibited.values()),
        "unknown_ids": dict(sorted(unknown.items())),
        "deprecated_ids": dict(sorted(deprecated.items())),
        "prohibited_ids": dict(sorted(prohibited.items())),
    }


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: NaN becomes None and numpy scalars become Python numbers."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# -- writing ------------------------------------------------------------------------


def write_reports(
    run_dir: str | Path,
    *,
    settings: EvalSettings,
    loaded: Mapping[str, Any],
    backend_info: Mapping[str, Any],
    wall_s: float | None = None,
    plots: bool = True,
) -> tuple[dict[str, Any], list[Path]]:
    """Build the report and write report.json, report.md and (unless `plots` is False) the plots."""
    from ctiforge.evaluate._markdown import render_markdown
    from ctiforge.evaluate._plots import write_plots

    run_dir = Path(run_dir)
    report = build_report(run_dir, settings=settings, loaded=loaded, backend_info=backend_info, wall_s=wall_s)
    files = []
    for name, content in (
        (REPORT_JSON, json.dumps(report, indent=1, ensure_ascii=False) + "\n"),
        (REPORT_MARKDOWN, render_markdown(report)),
    ):
        _write_atomic(run_dir / name, content)
        files.append(run_dir / name)
    if plots:
        files.extend(write_plots(report, run_dir / PLOTS_DIR))
    return report, files


def rescore_run(run_dir: str | Path, *, data_dir: str | Path | None = None,
                plots: bool = True) -> tuple[dict[str, Any], list[Path]]:
    """Score the stored responses of `run_dir` again (with the current parsers) and rewrite its reports."""
    from ctiforge.evaluate._runner import load_task_items, resolve_data_dir

    info = read_run_info(run_dir)
    stored_settings = dict(info.get("settings") or {})
    stored_settings["tasks"] = tuple(stored_settings.get("tasks") or ())
    settings = EvalSettings(**{k: v for k, v in stored_settings.items() if k in EvalSettings.__dataclass_fields__})
    loaded = load_task_items(settings, resolve_data_dir(data_dir))
    return write_reports(run_dir, settings=settings, loaded=loaded,
                         backend_info=info.get("backend_info") or dict(info.get("config", {})), plots=plots)


def _missing_report_message(path: Path, file: Path) -> str:
    if path.is_dir() and (path / RUN_FILE).is_file():
        return f"{file} not found; run `ctiforge eval report {path}` to score the stored responses"
    if path.is_dir():
        return (f"{path} is not a run directory: no {REPORT_JSON} or {RUN_FILE} found; pass a run directory "
                f"written by `ctiforge eval ... --run-dir RUN_DIR` or `ctiforge eval import-reference FILE "
                f"--out RUN_DIR`, or a {REPORT_JSON} file")
    return f"{file} not found; pass a run directory or its {REPORT_JSON} file"


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report from a run folder or a report.json file."""
    from ctiforge.errors import DataFormatError

    path = Path(path)
    file = path / REPORT_JSON if path.is_dir() else path
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(_missing_report_message(path, file)) from None
    except ValueError as exc:
        raise DataFormatError(f"{file} is not valid JSON ({exc}); rewrite it with `ctiforge eval report`") from None
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise DataFormatError(f"{file} is not a ctiforge evaluation report")
    if report.get("format_version", 0) > REPORT_FORMAT_VERSION:
        raise DataFormatError(f"{file} has report format {report.get('format_version')}; upgrade ctiforge to read it")
    return report
