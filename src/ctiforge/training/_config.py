"""The typed training config: YAML file, dotted `key=value` overrides, one validation pass.

Every default lives in the models below and equals the reference recipe
(LoRA on Qwen3-4B-Instruct-2507). `load_train_config` reports every problem
of a file and its overrides in one `ConfigError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ctiforge.errors import ConfigError

logger = logging.getLogger(__name__)

Precision = Literal["bf16", "fp16", "fp32"]
Attention = Literal["auto", "flash_attention_2", "sdpa", "eager"]
Scheduler = Literal["cosine", "linear", "constant", "constant_with_warmup"]
MetricSink = Literal["jsonl", "tensorboard", "wandb"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(_Section):
    """The base model and how it is loaded."""

    base: str = "Qwen/Qwen3-4B-Instruct-2507"
    """Hugging Face model id or local folder of the base model."""
    precision: Precision = "bf16"
    """Weight and compute precision; bf16 and fp16 need a CUDA GPU, fp32 runs anywhere."""
    attention: Attention = "auto"
    """Attention kernel; auto picks flash_attention_2 when installed on a CUDA GPU, otherwise sdpa."""
    qlora: bool = False
    """Load the base in 4-bit NF4 through bitsandbytes (QLoRA) to fit 24 GB and smaller GPUs."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: far less activation memory for about one extra forward pass per step."""
    trust_remote_code: bool = False
    """Allow model code from the Hub; leave off for Qwen3, Llama and Gemma."""


class DataSettings(_Section):
    """The chat JSONL files and how examples become token sequences."""

    train_file: Path | None = None
    """Chat JSONL ({"messages": [...]} per line), as written by `ctiforge corpus build`."""
    eval_file: Path | None = None
    """Optional held-out chat JSONL for an evaluation loss; never a CTIBench file."""
    max_length: int = Field(4096, ge=16)
    """Maximum tokens per training sequence; longer examples are truncated."""
    packing: bool = True
    """Pack several examples into one sequence; attention stays within each example."""


class LoraSettings(_Section):
    """The LoRA adapter."""

    r: int = Field(64, ge=1)
    """Rank of the update matrices."""
    alpha: int = Field(64, ge=1)
    """Scaling numerator; the update is scaled by alpha / r."""
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    """Dropout on the LoRA input."""
    target_modules: list[str] | Literal["auto"] = "auto"
    """Linear layer names to adapt; auto picks q/k/v/o and gate/up/down for the architecture."""


class TrainingSettings(_Section):
    """Optimiser, schedule and checkpointing."""

    learning_rate: float = Field(5e-5, gt=0.0)
    lr_scheduler: Scheduler = "cosine"
    warmup_ratio: float = Field(0.05, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.01, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0.0)
    epochs: float = Field(10.0, gt=0.0)
    """Passes over the training data; ignored when max_steps is set."""
    max_steps: int = Field(-1, ge=-1)
    """Optimiser steps to run; -1 runs `epochs` full passes."""
    per_device_batch_size: int = Field(2, ge=1)
    gradient_accumulation_steps: int = Field(8, ge=1)
    save_steps: int = Field(500, ge=1)
    """Write a resumable checkpoint every this many optimiser steps."""
    save_total_limit: int = Field(3, ge=1)
    """Checkpoints kept on disk; older ones are deleted."""
    logging_steps: int = Field(10, ge=1)
    eval_steps: int = Field(500, ge=1)
    """Evaluation-loss interval in steps; used only with data.eval_file."""


class LoggingSettings(_Section):
    """Metric sinks of a run."""

    sinks: list[MetricSink] = ["jsonl"]
    """Metric sinks; jsonl (metrics.jsonl in output_dir) is always written, tensorboard writes under output_dir/runs."""
    wandb_project: str | None = None
    """W&B project name for the wandb sink; $WANDB_PROJECT wins when set."""


class TrainConfig(_Section):
    """A complete training run: `ctiforge train --config FILE` reads one of these."""

    output_dir: Path = Path("runs/train")
    """Folder for checkpoints, the final adapter, metrics.jsonl and run-manifest.json."""
    seed: int = 42
    model: ModelSettings = ModelSettings()
    data: DataSettings = DataSettings()
    lora: LoraSettings = LoraSettings()
    training: TrainingSettings = TrainingSettings()
    logging: LoggingSettings = LoggingSettings()


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split "lora.r=16" into (["lora", "r"], 16); the value is parsed as YAML."""
    key, sep, raw_value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"invalid override '{text}': write it as key=value, e.g. training.max_steps=30")
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid override '{text}': the value is not valid YAML ({exc})") from exc
    return key.strip().split("."), value


def _apply_override(data: dict[str, Any], path: list[str], value: Any, text: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"invalid override '{text}': '{part}' is a value, not a section")
        node = child
    node[path[-1]] = value


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = TrainConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


def _describe_error(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    dotted = ".".join(str(part) for part in loc)
    if error["type"] == "extra_forbidden":
        return f"unknown key '{dotted}' (valid keys here: {', '.join(_valid_keys(loc))})"
    return f"{dotted}: {error['msg']} (got {error.get('input')!r})"


def load_train_config(path: Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config, apply dotted overrides and validate the result.

    Raises ConfigError listing every invalid key, type and value at once.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must contain a mapping of sections, not {type(loaded).__name__}")
        data = loaded

    for text in overrides:
        key_path, value = parse_override(text)
        _apply_override(data, key_path, value, text)

    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe_error(error) for error in exc.errors()]
        source = f"config {path}" if path is not None else "config"
        raise ConfigError(f"invalid {source}: " + "; ".join(problems)) from None

    if config.data.train_file is None:
        raise ConfigError("invalid config: data.train_file is missing; set it in the file or pass data.train_file=PATH")
    return config


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Return the config as plain JSON-compatible values (paths as strings)."""
    return config.model_dump(mode="json")
