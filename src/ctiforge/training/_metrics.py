"""Training metric sinks: metrics.jsonl always, TensorBoard and W&B through transformers."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"


def _trainer_callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


def make_jsonl_callback(path: Path) -> Any:
    """Return a `TrainerCallback` that appends one JSON object per log event to `path`.

    Each record has `step`, `epoch`, `time` (seconds since the callback was
    made) and the values the Trainer logged (`loss`, `learning_rate`,
    `grad_norm`, `eval_loss`, ...). Only the main process writes. A resumed
    run appends to the same file, so steps after the checkpoint follow the
    earlier ones.
    """
    base = _trainer_callback_base()

    class JsonlMetricsCallback(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.path = Path(path)
            self.started = time.monotonic()

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            record: dict[str, Any] = {"step": state.global_step, "epoch": state.epoch,
                                      "time": round(time.monotonic() - self.started, 3)}
            for key, value in logs.items():
                if isinstance(value, float) and not math.isfinite(value):
                    record[key] = str(value)
                elif isinstance(value, (int, float, str, bool)):
                    record[key] = value
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    return JsonlMetricsCallback()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read metrics.jsonl records in file order."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                records.append(json.loads(line))
    return records


def report_to(sinks: list[str]) -> list[str]:
    """Map config sinks to the Trainer's `report_to` names (jsonl is handled by the callback)."""
    return [sink for sink in sinks if sink in ("tensorboard", "wandb")] or ["none"]
