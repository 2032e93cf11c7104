"""Convert a published multi-trial evaluation file into a ctiforge run folder.

The input is the JSON written by the CyberSecQwen evaluation harness: run
settings at the top level and, per task under "subsets", per-trial
accuracies and the raw outputs of the last trial ("predictions" with "idx",
"gold" and "pred_raw"). Only raw outputs become responses, so re-scoring the
run folder scores the last trial; the published per-trial accuracies are kept
in run.json under "published".

The published files cut each raw output at 1,000 characters, which can cut
off the final answer line. For such an output the harness's own parsed
answer ("pred") is stored as `scored_text` and scored in place of the cut
text; reports count these responses as `scored_from_recorded_answer`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ctiforge.errors import ConfigError, DataFormatError
from ctiforge.evaluate._runner import load_task_items, plan_requests, resolve_data_dir
from ctiforge.evaluate._settings import EvalSettings
from ctiforge.evaluate._store import RESPONSES_FILE, RUN_FILE, RunStore

logger = logging.getLogger(__name__)

# Length at which the published files cut raw outputs.
RAW_OUTPUT_CUT = 1000


def import_reference_run(path: str | Path, *, out: str | Path, data_dir: str | Path | None = None) -> Path:
    """Write the run folder `out` from the published run file `path` and return `out`."""
    path = Path(path)
    try:
        published = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(f"reference run file {path} not found; check the path") from None
    except ValueError as exc:
        raise DataFormatError(f"{path} is not valid JSON ({exc}); pass the harness's multi-trial JSON file") from None
    subsets = published.get("subsets") if isinstance(published, dict) else None
    if not isinstance(subsets, dict) or not subsets:
        raise DataFormatError(f"{path} has no \"subsets\" object; pass a multi-trial run file of the CyberSecQwen harness")
    out = Path(out)
    if (out / RUN_FILE).exists() or (out / RESPONSES_FILE).exists():
        raise ConfigError(f"--out {out} already contains a run; pass a new folder")

    trials = int(published.get("trials") or 1)
    protocol = published.get("protocol", "ift")
    settings = EvalSettings(
        tasks=tuple(subsets),
        protocol=protocol,
        shots=int(published.get("n_shot") or 0) if protocol == "base" else 5,
        trials=trials,
        temperature=float(published.get("temperature", 0.0)),
        # NOTE: the file does not record top_p or a seed; top_p 1.0 is the
        # OpenAI API default, and no seed is assumed.
        top_p=1.0,
        max_tokens=int(published.get("max_tokens") or 512),
        seed=None,
    ).validate()
    loaded = load_task_items(settings, resolve_data_dir(data_dir))
    # The harness sent the dataset prompt unchanged, which is what the ift protocol sends.
    planned = {(p.task, p.index, p.trial): p for p in plan_requests(settings, loaded)}
    config = {"backend": "openai", "model": str(published.get("model", "unknown")), **settings.identity()}
    extra = {
        "imported_from": path.name,
        "backend_info": {"backend": "openai", "model": config["model"], "base_url": published.get("base_url")},
        "settings": json.loads(json.dumps(settings.as_dict())),
        "published": {name: {k: v for k, v in subset.items() if k != "trials"} for name, subset in subsets.items()},
        "published_window": [published.get("started_at"), published.get("finished_at")],
    }
    with RunStore.open(out, config=config, extra=extra) as store:
        for name, subset in subsets.items():
            _import_subset(store, name, subset, loaded[name].items, planned, trials, path)
    logger.info("imported %s into %s", path, out)
    return out


def _import_subset(store: RunStore, name: str, subset: dict[str, Any], items: list[Any],
                   planned: dict[tuple[str, int, int], Any], trials: int, path: Path) -> None:
    trial_records = subset.get("trials") or []
    if not trial_records or "predictions" not in trial_records[-1]:
        raise DataFormatError(f"{path}: subset {name} has no predictions in its last trial; nothing to import")
    trial = len(trial_records) - 1
    for row, prediction in enumerate(trial_records[-1]["predictions"]):
        index = prediction.get("idx")
        if not isinstance(index, int) or not 0 <= index < len(items):
            raise DataFormatError(f"{path}: {name} prediction {row} has idx {index!r}, outside the {len(items)} items")
        item = items[index]
        if str(prediction.get("gold")) != str(item.gold):
            raise DataFormatError(
                f"{path}: {name} prediction idx {index} has gold {prediction.get('gold')!r} but the data file "
                f"has {item.gold!r}; pass the --data-dir the run was made with"
            )
        plan = planned[(name, index, trial)]
        text = prediction.get("pred_raw")
        cut = isinstance(text, str) and len(text) >= RAW_OUTPUT_CUT
        recorded = prediction.get("pred") if cut and prediction.get("parseable") else None
        store.append({
            "task": name, "item": item.item_id, "index": index, "trial": trial, "prompt_hash": plan.prompt_hash,
            "status": "ok" if isinstance(text, str) else "error", "text": text if isinstance(text, str) else None,
            "error": None if isinstance(text, str) else "no raw output in the reference file",
            "finish_reason": None, "prompt_tokens": None, "completion_tokens": None,
            "latency_s": None, "attempts": 1,
            **({"scored_text": str(recorded)} if recorded else {}),
        })
