"""Model cards in Markdown from the merge sidecar, training and corpus manifests and evaluation runs."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

MODEL_SIDECAR = "ctiforge-model.json"
ADAPTER_SIDECAR = "ctiforge-adapter.json"
RUN_FILE = "run.json"
REPORT_FILE = "report.json"
DECONTAMINATION_FILE = "decontamination.json"

# Licence and attribution of each corpus input role, as the data sources publish them.
SOURCE_LICENCES: dict[str, str] = {
    "cve": "NVD data: public domain (US government work); CVE descriptions under the CVE Program terms of use. "
           "This product uses data from the NVD API but is not endorsed or certified by the NVD.",
    "cwe-catalog": "MITRE CWE terms of use: royalty-free; reproduce MITRE's copyright notice and the terms.",
    "attack": "MITRE ATT&CK terms of use: royalty-free; reproduce MITRE's copyright notice.",
    "capec": "MITRE CAPEC terms of use: royalty-free; reproduce MITRE's copyright notice.",
    "benchmark": "CTIBench, CC BY-NC-SA 4.0. Used only to remove overlapping training records, never trained on.",
    "user": "Supplied by the model builder; check its licence before publishing the model.",
}

LIMITATIONS: tuple[str, ...] = (
    "The model is a small specialist for defensive cyber threat intelligence. Its answers can be wrong "
    "or out of date; check CWE, CVSS and ATT&CK outputs against the authoritative catalogs before acting on them.",
    "The training data ends with the NVD and MITRE releases listed above; vulnerabilities and techniques "
    "published later are unknown to the model.",
    "Scores above come from the listed evaluation runs only, with the stated protocol, trials and item limits; "
    "other prompts, sampling settings or task versions can give different results.",
)


@dataclass
class CardSources:
    """Everything a card is built from, read from disk."""

    model_dir: Path
    model: dict[str, Any] | None
    training: dict[str, Any] | None
    corpus: dict[str, Any] | None
    decontamination: dict[str, Any] | None
    runs: list[tuple[Path, dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataFormatError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DataFormatError(f"{path} must contain a JSON object")
    return value


def collect_sources(model_dir: Path, run_dirs: list[Path]) -> CardSources:
    """Read the model's sidecar, the manifests it points to and each evaluation run.

    Raises DataFormatError when the model folder has neither a merge sidecar
    nor an adapter manifest, or when a run folder has no run.json.
    """
    model_dir = Path(model_dir)
    model = _read_json(model_dir / MODEL_SIDECAR) if (model_dir / MODEL_SIDECAR).is_file() else None
    if model is not None:
        training = model.get("training_manifest")
    elif (model_dir / ADAPTER_SIDECAR).is_file():
        training = _read_json(model_dir / ADAPTER_SIDECAR)
    else:
        raise DataFormatError(
            f"{model_dir} has neither {MODEL_SIDECAR} nor {ADAPTER_SIDECAR}; pass a folder written by "
            "`ctiforge merge` or the adapter folder written by `ctiforge train`"
        )

    corpus = training.get("corpus") if training else None
    decontamination = None
    corpus_manifest = (training or {}).get("data", {}).get("corpus_manifest")
    if corpus_manifest:
        report_path = Path(corpus_manifest).parent / DECONTAMINATION_FILE
        if report_path.is_file():
            decontamination = _read_json(report_path)
        else:
            logger.warning("no %s beside %s; the card leaves out the decontamination details",
                           DECONTAMINATION_FILE, corpus_manifest)

    runs = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        if not (run_dir / RUN_FILE).is_file():
            raise DataFormatError(f"{run_dir} is not an evaluation run folder ({RUN_FILE} not found); "
                                  "pass the --run-dir of `ctiforge eval`")
        report = _read_json(run_dir / REPORT_FILE) if (run_dir / REPORT_FILE).is_file() else None
        if report is None:
            logger.warning("%s has no %s; score it with `ctiforge eval report %s`", run_dir, REPORT_FILE, run_dir)
        runs.append((run_dir, _read_json(run_dir / RUN_FILE), report))
    return CardSources(model_dir, model, training, corpus, decontamination, runs)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(_cell(value) for value in row) + " |" for row in rows)
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value).replace("|", "\\|").replace("\n", " ")


def _recipe_section(sources: CardSources) -> list[str]:
    lines = ["## Training recipe", ""]
    training = sources.training
    if not training:
        return lines + ["No training manifest was found for this model.", ""]

    config = training.get("config", {})
    model, lora, schedule = config.get("model", {}), config.get("lora", {}), config.get("training", {})
    data = config.get("data", {})
    adapter = (sources.model or {}).get("adapter_config", {})

    rows = [
        ["base model", model.get("base")],
        ["method", "QLoRA (4-bit NF4 base)" if model.get("qlora") else "LoRA"],
        ["LoRA rank / alpha / dropout", f"{lora.get('r')} / {lora.get('alpha')} / {lora.get('dropout')}"],
        ["target modules", sorted(adapter.get("target_modules") or []) or lora.get("target_modules")],
        ["learning rate, schedule", f"{schedule.get('learning_rate')}, {schedule.get('lr_scheduler')}, "
                                    f"warmup {schedule.get('warmup_ratio')}"],
        ["weight decay", schedule.get("weight_decay")],
        ["epochs / max steps", f"{schedule.get('epochs')} / {schedule.get('max_steps')}"],
        ["batch", f"{schedule.get('per_device_batch_size')} per device x {schedule.get('gradient_accumulation_steps')} "
                  f"accumulation x {training.get('hardware', {}).get('world_size', 1)} processes"],
        ["max length, packing", f"{data.get('max_length')}, {data.get('packing')}"],
        ["precision", model.get("precision")],
        ["loss", "assistant tokens only"],
        ["seed", config.get("seed")],
        ["optimiser steps run", training.get("global_step")],
        ["final training loss", training.get("train_loss")],
        ["training data SHA-256", training.get("data", {}).get("train_sha256")],
    ]
    lines += _table(["setting", "value"], rows)

    hardware = training.get("hardware", {})
    packages = training.get("packages", {})
    lines += [
        "",
        f"Hardware: {', '.join(hardware.get('gpus') or []) or 'CPU only'} ({hardware.get('platform')}). "
        f"Packages: {', '.join(f'{name} {version}' for name, version in packages.items())}.",
    ]

    if sources.model:
        equivalence = sources.model.get("equivalence", {})
        lines.append(
            f"Merged into the base in {sources.model.get('dtype')}; the merged model's logits matched base + adapter "
            f"within {equivalence.get('tolerance', float('nan')):.3g} (measured {equivalence.get('max_abs_logit_diff', float('nan')):.3g}) "
            f"and greedy outputs were identical on {equivalence.get('prompts')} prompts."
        )
    return lines + [""]


def _data_section(sources: CardSources) -> list[str]:
    lines = ["## Training data", ""]
    corpus = sources.corpus
    if not corpus:
        data = (sources.training or {}).get("data", {})
        return lines + [f"Trained on `{data.get('train_file')}` ({data.get('examples')} examples); "
                        "no corpus manifest was found beside it, so sources and licences are not recorded.", ""]
    records = corpus.get("records", {})
    lines.append(f"{records.get('written')} records from `ctiforge corpus build` (seed {corpus.get('seed')}), "
                 f"by source: {_cell(records.get('by_source', {}))}; by kind: {_cell(records.get('by_kind', {}))}.")
    lines.append("")
    rows = []
    for item in corpus.get("inputs", []):
        role = item.get("role", "")
        rows.append([role, Path(str(item.get("path", ""))).name, str(item.get("sha256", ""))[:12],
                     SOURCE_LICENCES.get(role, "see the source's own terms")])
    lines += _table(["role", "file", "SHA-256 (first 12)", "licence"], rows)
    return lines + [""]


def _decontamination_section(sources: CardSources) -> list[str]:
    lines = ["## Decontamination", ""]
    report = sources.decontamination
    removed = (sources.corpus or {}).get("records", {}).get("removed_by_decontamination")
    if report is None and removed is None:
        return lines + ["No decontamination report was found; treat benchmark scores as possibly contaminated.", ""]
    if report is None:
        return lines + [f"{removed} generated record(s) overlapped a benchmark item and were removed "
                        "before training; the per-benchmark report was not found.", ""]
    settings = report.get("settings", {})
    lines.append(
        f"`ctiforge corpus build` checked {report.get('records_checked')} generated records against every "
        f"benchmark item (word {settings.get('shingle_size')}-gram overlap coefficient >= "
        f"{settings.get('threshold')}; texts under {settings.get('min_shingles')} shingles only on exact match) "
        f"and removed {report.get('records_removed')} before training."
    )
    rows = [[name, entry.get("items"), entry.get("items_matched"), entry.get("records_removed")]
            for name, entry in (report.get("benchmarks") or {}).items() if isinstance(entry, dict)]
    if rows:
        lines += ["", *_table(["benchmark", "items", "items matched", "records removed"], rows)]
    return lines + [""]


def _task_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Return one table row per task and scoring rule of a `ctiforge eval` report.json."""
    rows = []
    tasks = report.get("tasks")
    for name, task in (tasks.items() if isinstance(tasks, dict) else []):
        if not isinstance(task, dict):
            continue
        size = f"{task.get('n_items')} x {task.get('n_trials_scored')}"
        for rule, summary in (task.get("summary") or {}).items():
            interval = summary.get("ci95") or []
            rows.append([
                name, rule, summary.get("metric", task.get("primary_metric")),
                f"{summary.get('mean', float('nan')):.4f} ± {summary.get('std', float('nan')):.4f}",
                f"{interval[0]:.3f}-{interval[1]:.3f}" if len(interval) == 2 else "",
                summary.get("parse_rate", ""), size,
            ])
    return rows


def _results_section(sources: CardSources) -> list[str]:
    lines = ["## Evaluation results", ""]
    if not sources.runs:
        return lines + ["No evaluation run was given.", ""]
    for run_dir, run, report in sources.runs:
        lines += [f"### Run `{run_dir.name}`", ""]
        if report is None:
            lines += ["The run has no report.json yet; score it with `ctiforge eval report RUN_DIR`.", ""]
            continue
        settings = report.get("settings") or run.get("settings") or {}
        backend = report.get("backend") or {}
        shown = ["protocol", "trials", "temperature", "top_p", "max_tokens", "limit", "seed"]
        if settings.get("protocol") == "base":
            shown.insert(1, "shots")
        protocol = {key: settings[key] for key in shown if settings.get(key) is not None}
        lines.append(f"Backend {backend.get('backend', '?')}, model `{backend.get('model', '?')}`; "
                     f"protocol label {report.get('protocol_label', '?')}; settings: {_cell(protocol)}.")
        if settings.get("limit"):
            lines.append(f"Only the first {settings['limit']} items of each task were evaluated.")
        lines.append("")
        rows = _task_rows(report)
        if rows:
            lines += _table(["task", "rule", "metric", "mean ± std over trials", "95% CI", "parse rate",
                             "items x trials"], rows)
        else:
            lines.append("The report lists no tasks.")
        lines.append("")
    return lines


def render_card(sources: CardSources, *, title: str | None = None) -> str:
    """Return the model card as Markdown."""
    name = title or sources.model_dir.resolve().name
    base = ((sources.training or {}).get("config", {}).get("model", {}) or {}).get("base", "unknown base model")
    lines = [
        f"# {name}",
        "",
        f"A LoRA fine-tune of `{base}` for defensive cyber threat intelligence "
        "(CVE to CWE mapping, CWE, CAPEC and ATT&CK questions), built with ctiforge.",
        "",
    ]
    lines += _recipe_section(sources)
    lines += _data_section(sources)
    lines += _decontamination_section(sources)
    lines += _results_section(sources)
    lines += ["## Limitations", ""] + [f"- {text}" for text in LIMITATIONS] + [""]
    return "\n".join(lines)


def write_card(model_dir: Path, run_dirs: list[Path], *, out: Path | None = None, title: str | None = None) -> str:
    """Build the card for `model_dir` from `run_dirs`; write it to `out` when given and return the text."""
    text = render_card(collect_sources(model_dir, run_dirs), title=title)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(out)
    return text
