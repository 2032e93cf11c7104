"""`ctiforge train`: LoRA fine-tuning from a YAML config with dotted overrides."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click


@click.command("train")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="YAML training config; without it the reference recipe's defaults apply.")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint-* folder in output_dir.")
@click.option("--check", is_flag=True, help="Validate the config, hardware and data files, then stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.argument("overrides", nargs=-1)
def train(config_path: Path | None, resume: bool, check: bool, as_json: bool, overrides: tuple[str, ...]) -> None:
    """Fine-tune a chat model with LoRA on chat JSONL.

    OVERRIDES are dotted key=value pairs that replace config values, parsed
    as YAML (training.max_steps=30, lora.r=16, logging.sinks=[jsonl,tensorboard]).
    Run the same command under `accelerate launch -m ctiforge train ...` for
    several GPUs.

    \b
    Examples:
      ctiforge train --config configs/train.yaml
      ctiforge train --config configs/train.yaml model.qlora=true training.per_device_batch_size=1
      ctiforge train --config configs/train.yaml --resume
      accelerate launch --multi_gpu --num_processes 4 -m ctiforge train --config configs/train.yaml
    """
    from ctiforge.training import load_train_config
    from ctiforge.training._trainer import prepare, run_training

    config = load_train_config(config_path, list(overrides))
    if check:
        prepared = prepare(config, resume=resume)
        click.echo(f"config valid: {len(prepared.train)} training examples from {config.data.train_file}")
        return

    result = run_training(config, resume=resume)
    if not result.main_process:
        return
    if as_json:
        payload = asdict(result)
        payload["output_dir"] = str(result.output_dir)
        payload["adapter_dir"] = str(result.adapter_dir)
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"adapter: {result.adapter_dir}")
    click.echo(f"steps: {result.global_step}" + (f" (resumed from {result.resumed_from})" if result.resumed_from else ""))
    if result.first_loss is not None and result.final_loss is not None:
        click.echo(f"loss: {result.first_loss:.4f} -> {result.final_loss:.4f}")
    click.echo(f"tokens: {result.stats.tokens} ({result.stats.assistant_tokens} trained) in {result.runtime_s:.1f} s")
