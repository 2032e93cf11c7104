"""Reading recorded model responses: CTIBench responses TSV, reference-run JSON and JSONL run files."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctiforge.benchmarks._loading import MAX_FIELD_CHARS, read_text, read_tsv
from ctiforge.benchmarks._registry import get_task
from ctiforge.benchmarks._task import Task
from ctiforge.benchmarks._types import Item
from ctiforge.errors import DataFormatError

logger = logging.getLogger(__name__)

GOLD_COLUMN = "GT"
# Columns of the CTIBench dataset files; they are never model columns.
DATASET_COLUMNS = frozenset(
    {"URL", "Question", "Option A", "Option B", "Option C", "Option D", "Prompt", "Description", "Text", "Platform"}
)
ACCEPTED_FORMATS = (
    "a CTIBench responses TSV (a GT column and one column per model), "
    "a reference-run JSON object with 'subsets' (raw outputs of the last trial), "
    'or JSONL with one {"task", "item_id" or "index", "response", optional "gold"} object per line'
)


@dataclass
class ResponseSet:
    """One model's responses to one task, aligned with the items they answer."""

    model: str
    task: str
    items: list[Item]
    responses: list[str | None]
    source: str
    """Format the responses were read from: ``tsv``, ``reference-run`` or ``jsonl``."""


def read_responses(
    path: str | Path, task: str | Task, *, column: str | None = None, data: str | Path | None = None
) -> list[ResponseSet]:
    """Read every model's responses to `task` from a responses file, detecting its format from the content.

    `column` selects one model column of a responses TSV (default: every column
    but GT). `data` is the CTIBench TSV or folder that supplies gold answers and
    item IDs to run files whose records carry no gold answer.
    """
    task = get_task(task) if isinstance(task, str) else task
    path = Path(path)
    text = read_text(path, what="responses file")
    head = text.lstrip()
    if not head:
        raise DataFormatError(f"responses file {path} is empty; expected {ACCEPTED_FORMATS}")
    if head.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
        if isinstance(document, dict) and "subsets" in document:
            return [_read_reference_run(path, document, task, data)]
        return _read_jsonl(path, text, task, data)
    first_line = head.splitlines()[0]
    if "\t" in first_line or first_line.strip() == GOLD_COLUMN:
        return _read_tsv(path, task, column, data)
    raise DataFormatError(f"{path} is not a recognised responses file; accepted formats: {ACCEPTED_FORMATS}")


def _check_response(path: Path, where: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise DataFormatError(f"{path}: {where}: response must be a string or null, got {type(value).__name__}")
    if len(value) > MAX_FIELD_CHARS:
        raise DataFormatError(
            f"{path}: {where}: response has {len(value):,} characters, more than the limit of "
            f"{MAX_FIELD_CHARS:,}; truncate or remove that response"
        )
    return value


def _dataset_items(task: Task, data: str | Path | None) -> list[Item] | None:
    return task.load(data) if data is not None else None


def _read_tsv(path: Path, task: Task, column: str | None, data: str | Path | None) -> list[ResponseSet]:
    columns, rows = read_tsv(path, required=(GOLD_COLUMN,), what="responses file")
    if column is not None:
        if column not in columns or column == GOLD_COLUMN:
            candidates = [name for name in columns if name and name != GOLD_COLUMN]
            raise DataFormatError(f"{path}: no model column {column!r}; columns: {', '.join(candidates) or 'none'}")
        models = [column]
    else:
        models = [name for name in columns if name and name != GOLD_COLUMN and name not in DATASET_COLUMNS]
    if not models:
        raise DataFormatError(
            f"{path}: no model column besides {', '.join(columns)}; a responses TSV has a GT column and one "
            "column of responses per model (a CTIBench dataset file is not a responses file)"
        )
    if not rows:
        raise DataFormatError(f"{path}: the file has a header but no rows")

    items = task.items_from_gold([row[GOLD_COLUMN] for row in rows], source=str(path))
    dataset = _dataset_items(task, data)
    if dataset is not None:
        if len(dataset) != len(items):
            raise DataFormatError(
                f"{path}: {len(items)} rows but the {task.name} data has {len(dataset)}; pass the matching --data"
            )
        # IDs and URLs come from the dataset, but gold answers stay those of the responses file.
        items = [
            dataclasses.replace(item, item_id=known.item_id, cve_id=known.cve_id, url=known.url, prompt=known.prompt)
            for item, known in zip(items, dataset)
        ]

    sets = []
    for model in models:
        responses = [row[model] for row in rows]
        if not any(response.strip() for response in responses):
            raise DataFormatError(
                f"{path}: column {model!r} is empty in every row; fill it or choose another column with --column"
            )
        sets.append(ResponseSet(model=model, task=task.name, items=items, responses=list(responses), source="tsv"))
    return sets


def _read_reference_run(path: Path, document: dict[str, Any], task: Task, data: str | Path | None) -> ResponseSet:
    subsets = document.get("subsets")
    if not isinstance(subsets, dict) or task.name not in subsets:
        names = ", ".join(subsets) if isinstance(subsets, dict) else "none"
        raise DataFormatError(f"{path}: the run has no {task.name} subset; subsets found: {names}")
    trials = subsets[task.name].get("trials") if isinstance(subsets[task.name], dict) else None
    if not isinstance(trials, list) or not trials:
        raise DataFormatError(f"{path}: subset {task.name} has no 'trials' list")
    predictions = trials[-1].get("predictions") if isinstance(trials[-1], dict) else None
    if not isinstance(predictions, list) or not predictions:
        raise DataFormatError(
            f"{path}: the last trial of {task.name} has no 'predictions' list (raw outputs), so there is nothing to score"
        )

    dataset = _dataset_items(task, data)
    items: list[Item] = []
    responses: list[str | None] = []
    for position, record in enumerate(predictions):
        where = f"subset {task.name}, prediction {position}"
        if not isinstance(record, dict):
            raise DataFormatError(f"{path}: {where} is not an object")
        index = record.get("idx", position)
        if not isinstance(index, int):
            raise DataFormatError(f"{path}: {where}: 'idx' must be an integer, got {index!r}")
        gold = record.get("gold")
        if gold is None and dataset is not None:
            item = _lookup(path, where, dataset, index=index, item_id=None)
        else:
            item = task.item_from_record(index, gold=gold, url=record.get("url"), where=f"{path}: {where}")
        if item.gold is None:
            raise DataFormatError(
                f"{path}: {where} has no gold answer; pass --data with the CTIBench folder to supply it"
            )
        items.append(item)
        responses.append(_check_response(path, where, record.get("pred_raw")))
    model = str(document.get("model") or path.stem)
    logger.info("read %d %s responses of %s from reference run %s", len(items), task.name, model, path)
    return ResponseSet(model=model, task=task.name, items=items, responses=responses, source="reference-run")


def _lookup(path: Path, where: str, dataset: list[Item], *, index: Any, item_id: Any) -> Item:
    if item_id is not None:
        for item in dataset:
            if item.item_id == item_id:
                return item
        raise DataFormatError(f"{path}: {where}: item_id {item_id!r} is not in the {dataset[0].task} data")
    if not isinstance(index, int) or not 0 <= index < len(dataset):
        raise DataFormatError(
            f"{path}: {where}: index {index!r} is outside the {len(dataset)} {dataset[0].task} items"
        )
    return dataset[index]


def _read_jsonl(path: Path, text: str, task: Task, data: str | Path | None) -> list[ResponseSet]:
    dataset = _dataset_items(task, data)
    by_model: dict[str, tuple[list[Item], list[str | None]]] = {}
    other_tasks = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {line_number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                f"{path}: {where} is not valid JSON ({exc.msg}); accepted formats: {ACCEPTED_FORMATS}"
            ) from None
        if not isinstance(record, dict) or "response" not in record:
            raise DataFormatError(
                f'{path}: {where} is not an object with a "response" field; accepted formats: {ACCEPTED_FORMATS}'
            )
        record_task = record.get("task", task.name)
        if record_task != task.name:
            other_tasks += 1
            continue
        item_id = record.get("item_id")
        index = record.get("index")
        if item_id is None and index is None:
            raise DataFormatError(f'{path}: {where} has neither "item_id" nor "index"; add one to match it to an item')
        gold = record.get("gold")
        if gold is None:
            if dataset is None:
                raise DataFormatError(
                    f'{path}: {where} has no "gold"; pass --data with the CTIBench folder to supply gold answers'
                )
            item = _lookup(path, where, dataset, index=index, item_id=item_id)
        else:
            if isinstance(gold, list):
                gold = ", ".join(str(value) for value in gold)
            position = index if isinstance(index, int) else line_number - 1
            item = task.item_from_record(position, gold=str(gold), item_id=item_id, where=f"{path}: {where}")
        model = str(record.get("model") or path.stem)
        items, responses = by_model.setdefault(model, ([], []))
        items.append(item)
        responses.append(_check_response(path, where, record["response"]))
    if other_tasks:
        logger.info("%s: skipped %d records of other tasks", path, other_tasks)
    if not by_model:
        raise DataFormatError(f"{path}: no records for task {task.name} ({other_tasks} records of other tasks)")
    return [
        ResponseSet(model=model, task=task.name, items=items, responses=responses, source="jsonl")
        for model, (items, responses) in by_model.items()
    ]
