"""Run an evaluation: build prompts, ask the backend for what the run store lacks, report."""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from ctiforge.backends import Backend, GenerationRequest, GenerationResult, SamplingParams
from ctiforge.errors import ConfigError, DataFormatError
from ctiforge.evaluate._settings import EvalSettings
from ctiforge.evaluate._store import RUN_FILE, ResponseKey, RunStore, _write_atomic, prompt_hash

logger = logging.getLogger(__name__)

DATA_DIR_VARIABLE = "CTIFORGE_CTIBENCH_DIR"
# The CTIBench folder keeps published model responses, with a GT column of gold answers, here.
GOLD_RESPONSES_DIR = "responses"
GOLD_COLUMN = "GT"


@dataclass(frozen=True)
class PlannedRequest:
    """One (task, item, trial) with the exact prompt that is sent for it."""

    task: str
    item_id: str
    index: int
    trial: int
    prompt_hash: str
    request: GenerationRequest


@dataclass
class EvalOutcome:
    """Request counts, timing and report of one `run_evaluation` call."""

    run_dir: Path
    planned: int
    reused: int
    received: int = 0
    failed: int = 0
    wall_s: float = 0.0
    first_error: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    report_files: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.failed == 0


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """Return the CTIBench folder from the argument or CTIFORGE_CTIBENCH_DIR."""
    chosen = data_dir or os.environ.get(DATA_DIR_VARIABLE)
    if not chosen:
        raise ConfigError(
            f"no CTIBench data: pass --data-dir FOLDER (the folder with cti-rcm.tsv and the other TSVs) "
            f"or set {DATA_DIR_VARIABLE}"
        )
    path = Path(chosen)
    if not path.exists():
        raise DataFormatError(f"--data-dir {path} not found; pass the folder that contains the CTIBench TSV files")
    return path


class TaskData(NamedTuple):
    """A loaded task: the task object, the evaluated items and the exemplar pool (the whole task file)."""

    task: Any
    items: list[Any]
    pool: list[Any]
    not_scored: str | None = None
    """Why the task cannot be scored (no gold answers), or None."""


def load_task_items(settings: EvalSettings, data_dir: Path) -> dict[str, TaskData]:
    """Load every task of the settings, keeping the first `settings.limit` items.

    A task file without gold answers (cti-taa.tsv has no answer column) takes
    them from `responses/<task>-responses.tsv` under `data_dir`. When that file
    is absent too, the task is loaded with `not_scored` set, so its responses
    are still requested, stored and reported, only without metrics.
    """
    from ctiforge.benchmarks import get_task

    loaded = {}
    for name in settings.tasks:
        task = get_task(name)
        pool = task.load(data_dir)
        not_scored = None
        if any(item.gold is None for item in pool):
            pool, not_scored = _attach_gold(task, pool, data_dir)
        items = pool if settings.limit is None else pool[: settings.limit]
        loaded[name] = TaskData(task, items, pool, not_scored)
    return loaded


def gold_responses_file(task_name: str, data_dir: Path) -> Path:
    """Return the path of the responses TSV whose GT column contains the task's gold answers."""
    folder = data_dir if data_dir.is_dir() else data_dir.parent
    return folder / GOLD_RESPONSES_DIR / f"{task_name}-responses.tsv"


def _attach_gold(task: Any, pool: list[Any], data_dir: Path) -> tuple[list[Any], str | None]:
    """Fill missing gold answers from the responses TSV's GT column, matched to the task file row by row."""
    path = gold_responses_file(task.name, data_dir)
    if not path.is_file():
        reason = (f"no gold answers (put {GOLD_RESPONSES_DIR}/{path.name} with a {GOLD_COLUMN} column "
                  f"in --data-dir)")
        logger.warning("%s: %s; its responses are stored and reported without metrics", task.name, reason)
        return pool, reason
    golds = _read_gold_column(path)
    # The CTIBench responses files have no URL or ID column, so rows match the task file by position.
    if len(golds) != len(pool):
        raise DataFormatError(
            f"{path}: {len(golds)} rows but {task.name} has {len(pool)} items; the {GOLD_COLUMN} column must "
            f"have one row per row of the task file, in the same order"
        )
    gold_items = task.items_from_gold(golds, source=str(path))
    missing = [position + 1 for position, item in enumerate(gold_items) if item.gold is None]
    if missing:
        raise DataFormatError(
            f"{path}: {len(missing)} empty {GOLD_COLUMN} cell(s) (first: row {missing[0]}); fill them in"
        )
    logger.info("%s: gold answers from %s", task.name, path)
    return [replace(item, gold=gold.gold) if item.gold is None else item
            for item, gold in zip(pool, gold_items)], None


def _read_gold_column(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        columns = [name.strip() for name in reader.fieldnames or ()]
        if GOLD_COLUMN not in columns:
            raise DataFormatError(
                f"{path}: no {GOLD_COLUMN} column (found {', '.join(columns) or 'none'}); "
                f"add a {GOLD_COLUMN} column with the gold answer of each row"
            )
        key = (reader.fieldnames or [])[columns.index(GOLD_COLUMN)]
        # DictReader skips blank lines, so each row here is one row of the task file.
        return [row.get(key) or "" for row in reader]


def plan_requests(settings: EvalSettings, loaded: dict[str, TaskData]) -> list[PlannedRequest]:
    """Build every (task, item, trial) request of the run, trial by trial."""
    planned = []
    for name, data in loaded.items():
        for trial in range(settings.trials):
            for item in data.items:
                # The whole file is the exemplar pool, also under --limit, so a
                # limited run sends the same prompts as the first items of a full run.
                planned.append(_plan_one(settings, name, data.task, item, trial, data.pool))
    return planned


def _plan_one(settings: EvalSettings, name: str, task: Any, item: Any, trial: int, pool: Sequence[Any]) -> PlannedRequest:
    kwargs: dict[str, Any] = {"protocol": settings.protocol, "pool": pool, "seed": settings.seed or 0, "trial": trial}
    if settings.protocol == "base":
        kwargs["shots"] = settings.shots
    prompt = task.build_prompt(item, **kwargs)
    seed = None if settings.seed is None else settings.seed + trial
    params = SamplingParams(
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_tokens,
        seed=seed,
        stop=tuple(prompt.stop),
    )
    messages: tuple[dict[str, str], ...] | None = None
    text: str | None = None
    if settings.protocol == "ift":
        # The ift protocol sends chat messages, with the system prompt as a system message.
        system = [{"role": "system", "content": settings.system_prompt}] if settings.system_prompt else []
        messages = tuple(system + [dict(message) for message in prompt.messages])
    elif settings.system_prompt:
        text = f"{settings.system_prompt}\n\n{prompt.text}"
    else:
        text = prompt.text
    digest = prompt_hash(list(messages) if messages is not None else None, text, prompt.stop)
    key = f"{name}\t{item.item_id}\t{trial}\t{digest}"
    request = GenerationRequest(key=key, params=params, messages=messages, text=text, task=name)
    return PlannedRequest(task=name, item_id=item.item_id, index=item.index, trial=trial, prompt_hash=digest, request=request)


def run_config(settings: EvalSettings, backend: Backend) -> dict[str, Any]:
    """Return the identity configuration stored in `run.json`."""
    info = backend.info
    return {"backend": info.backend, "model": info.model, **settings.identity()}


def run_evaluation(
    settings: EvalSettings,
    *,
    backend: Backend,
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    progress: bool | None = None,
    write_report: bool = True,
    plots: bool = True,
) -> EvalOutcome:
    """Evaluate `backend` on the settings' tasks, storing every response in `run_dir`.

    Responses already stored for the same configuration are reused, so
    rerunning after an interruption requests only what is missing. Failed
    requests are stored with their error and requested again on the next run.
    `progress` turns the progress bar on stderr on or off. None shows it only
    when stderr is a terminal.
    """
    settings.validate()
    unsupported = [name for name in settings.tasks if not backend.supports_task(name)]
    if unsupported:
        raise ConfigError(
            f"task(s) {', '.join(unsupported)} not supported by the '{backend.name}' backend; "
            f"pass --tasks with only {', '.join(sorted(backend.supported_tasks or ()))}"
        )
    folder = resolve_data_dir(data_dir)
    loaded = load_task_items(settings, folder)
    planned = plan_requests(settings, loaded)

    store = RunStore.open(
        run_dir,
        config=run_config(settings, backend),
        extra={"backend_info": backend.info.as_dict(), "settings": _jsonable(settings.as_dict())},
    )
    try:
        _update_settings(store, settings)
        stored = store.responses()
        if store.skipped_lines:
            logger.warning("skipped %d incomplete line(s) in %s; their requests are sent again", store.skipped_lines, store.run_dir)
        done = {key for key, response in stored.items() if response.ok}
        todo = [p for p in planned if ResponseKey(p.task, p.item_id, p.trial, p.prompt_hash) not in done]
        outcome = EvalOutcome(run_dir=Path(run_dir), planned=len(planned), reused=len(planned) - len(todo))
        logger.info("%d requests planned, %d already stored, %d to send", len(planned), outcome.reused, len(todo))
        started = time.monotonic()
        if todo:
            backend.check()
            _generate(backend, todo, store, outcome, progress=progress)
        outcome.wall_s = time.monotonic() - started
        if write_report:
            from ctiforge.evaluate._report import write_reports

            outcome.report, outcome.report_files = write_reports(
                store.run_dir, settings=settings, loaded=loaded, backend_info=backend.info.as_dict(),
                wall_s=outcome.wall_s, plots=plots,
            )
    finally:
        store.close()
    return outcome


def _generate(backend: Backend, todo: list[PlannedRequest], store: RunStore, outcome: EvalOutcome, *,
              progress: bool | None) -> None:
    by_key = {p.request.key: p for p in todo}
    bar = _progress_bar(len(todo), enabled=progress)

    def on_result(result: GenerationResult) -> None:
        planned = by_key[result.key]
        record = {
            "task": planned.task,
            "item": planned.item_id,
            "index": planned.index,
            "trial": planned.trial,
            "prompt_hash": planned.prompt_hash,
            "status": "ok" if result.ok else "error",
            "text": result.text,
            "error": result.error,
            "finish_reason": result.finish_reason,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "latency_s": round(result.latency_s, 4),
            "attempts": result.attempts,
        }
        store.append(record)
        if result.ok:
            outcome.received += 1
        else:
            outcome.failed += 1
            if outcome.first_error is None:
                outcome.first_error = f"{planned.task} item {planned.item_id} trial {planned.trial}: {result.error}"
        if bar is not None:
            bar.update(1)

    try:
        backend.generate([p.request for p in todo], on_result=on_result)
    finally:
        if bar is not None:
            bar.close()


def _progress_bar(total: int, *, enabled: bool | None) -> Any:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="req", file=sys.stderr, desc="eval", mininterval=0.5)


def _update_settings(store: RunStore, settings: EvalSettings) -> None:
    """Record the latest settings (tasks, trials, limit may change between resumes) in run.json."""
    info = dict(store.run_info)
    info["settings"] = _jsonable(settings.as_dict())
    store.run_info = info
    _write_atomic(store.run_dir / RUN_FILE, json.dumps(info, indent=2, sort_keys=True) + "\n")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))
