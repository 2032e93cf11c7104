"""LoRA fine-tuning with `transformers.Trainer` and ctiforge's own collator.

The Trainer runs the loop, not trl's SFTTrainer. Assistant-only loss needs
labels from the chat template, and Qwen3's template has no generation
markers for trl to use, so `_data.encode_chat` computes the labels instead. The same
code runs in one process or under `accelerate launch` (DDP, FSDP, DeepSpeed),
because the Trainer reads the process layout from the environment.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctiforge.errors import ConfigError, CtiforgeError, require
from ctiforge.training._config import TrainConfig, config_to_dict
from ctiforge.training._data import (
    ChatCollator,
    ChatExample,
    EncodingStats,
    SequenceDataset,
    encode_examples,
    read_chat_jsonl,
    sha256_file,
)
from ctiforge.training._manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    find_corpus_manifest,
    hardware_summary,
    package_versions,
    read_json,
    utc_now,
    write_json_atomic,
)
from ctiforge.training._metrics import METRICS_NAME, make_jsonl_callback, read_metrics, report_to
from ctiforge.training._modules import resolve_target_modules

logger = logging.getLogger(__name__)

ADAPTER_DIR_NAME = "adapter"
ADAPTER_SIDECAR = "ctiforge-adapter.json"
_CHECKPOINT_PATTERN = re.compile(r"checkpoint-(\d+)")


@dataclass(frozen=True)
class TrainResult:
    """Outputs and counts of a finished training run."""

    output_dir: Path
    adapter_dir: Path
    global_step: int
    resumed_from: str | None
    first_loss: float | None
    final_loss: float | None
    runtime_s: float
    stats: EncodingStats
    main_process: bool = True
    """False in the other processes of a distributed run, which should print nothing."""


@dataclass(frozen=True)
class PreparedData:
    """Training (and optional evaluation) examples read and checked before any model loads."""

    train: list[ChatExample]
    eval: list[ChatExample] | None


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_attention(config: TrainConfig, *, cuda: bool) -> str:
    """Return the attention implementation name to pass to `from_pretrained`."""
    flash_installed = importlib.util.find_spec("flash_attn") is not None
    if config.model.attention == "auto":
        return "flash_attention_2" if cuda and flash_installed else "sdpa"
    return config.model.attention


def last_checkpoint(output_dir: Path) -> Path | None:
    """Return the complete `checkpoint-<step>` folder with the highest step in `output_dir`, or None.

    The Trainer writes trainer_state.json last, so a folder without it was
    cut off while saving (a killed run) and is skipped. Importing the Trainer
    for its own lookup would slow `ctiforge train --check` by seconds.
    """
    if not output_dir.is_dir():
        return None
    steps = {}
    for child in output_dir.iterdir():
        match = _CHECKPOINT_PATTERN.fullmatch(child.name)
        if match and (child / "trainer_state.json").is_file():
            steps[int(match.group(1))] = child
    return steps[max(steps)] if steps else None


def check_environment(config: TrainConfig, *, resume: bool) -> list[str]:
    """Check the hardware, optional packages and output folder against the config.

    Returns the problems found (empty when the run can start); the caller
    reports them together with the data problems.
    """
    problems: list[str] = []
    cuda = _cuda_available()
    if config.model.precision in ("bf16", "fp16") and not cuda:
        problems.append(
            f"model.precision={config.model.precision} needs a CUDA GPU and none was found; "
            "to train on CPU pass model.precision=fp32"
        )
    if config.model.qlora:
        if not cuda:
            problems.append("model.qlora=true needs a CUDA GPU and none was found; on CPU pass model.qlora=false")
        elif importlib.util.find_spec("bitsandbytes") is None:
            problems.append("model.qlora=true needs bitsandbytes: pip install bitsandbytes")
    if config.model.attention == "flash_attention_2":
        if not cuda:
            problems.append("model.attention=flash_attention_2 needs a CUDA GPU; pass model.attention=sdpa")
        elif importlib.util.find_spec("flash_attn") is None:
            problems.append("model.attention=flash_attention_2 needs flash-attn: pip install flash-attn")
    for sink, module in (("tensorboard", "tensorboard"), ("wandb", "wandb")):
        if sink in config.logging.sinks and importlib.util.find_spec(module) is None:
            problems.append(f"logging.sinks includes {sink} but the package is not installed: pip install {module}")

    output_dir = config.output_dir
    last = last_checkpoint(output_dir)
    if resume and last is None:
        problems.append(f"--resume given but {output_dir} has no checkpoint-* folder to resume from")
    if not resume and last is not None:
        problems.append(
            f"{output_dir} already contains {last.name}; pass --resume to continue that run "
            "or set output_dir to a new folder"
        )
    if not resume and (output_dir / ADAPTER_DIR_NAME).exists():
        problems.append(f"{output_dir / ADAPTER_DIR_NAME} already exists; set output_dir to a new folder")
    return problems


def require_training_packages() -> None:
    """Raise `MissingDependencyError` naming the train extra unless torch, transformers and peft import."""
    for module in ("torch", "transformers", "peft"):
        require(module, extra="train", feature="ctiforge train")


def prepare(config: TrainConfig, *, resume: bool) -> PreparedData:
    """Validate the environment and read the data files; raise ConfigError listing all problems.

    Raises `MissingDependencyError` first when the train extra is not installed,
    because the hardware check itself needs torch.
    """
    require_training_packages()
    problems = check_environment(config, resume=resume)
    data: dict[str, list[ChatExample] | None] = {"train": None, "eval": None}
    for name, path in (("train", config.data.train_file), ("eval", config.data.eval_file)):
        if path is None:
            continue
        try:
            data[name] = read_chat_jsonl(path)
        except CtiforgeError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("cannot start training: " + "; ".join(problems))
    assert data["train"] is not None
    return PreparedData(train=data["train"], eval=data["eval"])


def _load_tokenizer(config: TrainConfig) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.model.base, trust_remote_code=config.model.trust_remote_code)
    except OSError as exc:
        raise ConfigError(
            f"model.base '{config.model.base}' could not be loaded ({exc}); give a local folder "
            "or a Hugging Face id that is downloaded or reachable"
        ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_model(config: TrainConfig, *, cuda: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[config.model.precision]
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "attn_implementation": resolve_attention(config, cuda=cuda),
        "trust_remote_code": config.model.trust_remote_code,
    }
    if config.model.qlora:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        # Each DDP process keeps its own quantized copy on its own GPU.
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    logger.info("loading %s with %s", config.model.base, kwargs["attn_implementation"])
    model = AutoModelForCausalLM.from_pretrained(config.model.base, **kwargs)
    # A KV cache during training disables the packed-sequence attention mask.
    model.config.use_cache = False
    return model


def _wrap_lora(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    targets = resolve_target_modules(model, config.lora.target_modules)
    if config.model.qlora:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.model.gradient_checkpointing
        )
    lora_config = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        # peft 0.21 reads the model's `is_gradient_checkpointing` property inside
        # get_peft_model, which transformers 5.25 deprecates with a FutureWarning
        # that no argument of ours can avoid.
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        return get_peft_model(model, lora_config)


def _checkpointing_arguments(arguments_class: type, enabled: bool) -> dict[str, Any]:
    """Return the activation checkpointing keywords under the names this transformers version expects.

    transformers 5.25 calls them `activation_checkpointing*` and issues a FutureWarning
    whenever an old `gradient_checkpointing*` name is given, even as False.
    Releases without the new names get the old ones.
    """
    names = {field.name for field in dataclasses.fields(arguments_class)}
    prefix = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return {
        prefix: enabled,
        f"{prefix}_kwargs": {"use_reentrant": False} if enabled else None,
    }


def _training_arguments(config: TrainConfig, *, cuda: bool, has_eval: bool) -> Any:
    from transformers import TrainingArguments

    training = config.training
    if "wandb" in config.logging.sinks and config.logging.wandb_project:
        # transformers' W&B callback reads the project name from this variable.
        os.environ.setdefault("WANDB_PROJECT", config.logging.wandb_project)
    return TrainingArguments(
        output_dir=str(config.output_dir),
        seed=config.seed,
        per_device_train_batch_size=training.per_device_batch_size,
        per_device_eval_batch_size=training.per_device_batch_size,
        gradient_accumulation_steps=training.gradient_accumulation_steps,
        learning_rate=training.learning_rate,
        lr_scheduler_type=training.lr_scheduler,
        warmup_steps=training.warmup_ratio,
        weight_decay=training.weight_decay,
        max_grad_norm=training.max_grad_norm,
        num_train_epochs=training.epochs,
        max_steps=training.max_steps,
        logging_steps=training.logging_steps,
        save_strategy="steps",
        save_steps=training.save_steps,
        save_total_limit=training.save_total_limit,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=training.eval_steps if has_eval else None,
        bf16=config.model.precision == "bf16",
        fp16=config.model.precision == "fp16",
        use_cpu=not cuda,
        **_checkpointing_arguments(TrainingArguments, config.model.gradient_checkpointing),
        remove_unused_columns=False,
        report_to=report_to(config.logging.sinks),
        # Packed batches have no padding and no attention mask to count it from.
        include_num_input_tokens_seen="all" if config.data.packing else "non_padding",
        ddp_find_unused_parameters=False,
        dataloader_pin_memory=cuda,
        disable_tqdm=True,
    )


def _progress_callback() -> Any:
    from transformers import TrainerCallback

    class StderrProgress(TrainerCallback):
        """Print one line per logging step to stderr on the main process."""

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            shown = ", ".join(
                f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                for key, value in logs.items()
                if key in ("loss", "eval_loss", "learning_rate", "grad_norm", "train_loss")
            )
            print(f"step {state.global_step}/{state.max_steps}: {shown}", file=sys.stderr, flush=True)

    return StderrProgress()


def _base_manifest(config: TrainConfig, stats: EncodingStats, *, resume_from: str | None) -> dict[str, Any]:
    assert config.data.train_file is not None
    corpus_manifest = find_corpus_manifest(config.data.train_file)
    data: dict[str, Any] = {
        "train_file": str(config.data.train_file.resolve()),
        "train_sha256": sha256_file(config.data.train_file),
        "examples": stats.examples,
        "sequences": stats.sequences,
        "tokens": stats.tokens,
        "assistant_tokens": stats.assistant_tokens,
        "truncated": stats.truncated,
        "skipped_without_answer": stats.skipped_without_answer,
        "corpus_manifest": str(corpus_manifest) if corpus_manifest else None,
    }
    if config.data.eval_file is not None:
        data["eval_file"] = str(config.data.eval_file.resolve())
        data["eval_sha256"] = sha256_file(config.data.eval_file)
    return {
        "format_version": MANIFEST_FORMAT,
        "kind": "ctiforge-train-run",
        "status": "running",
        "started_at": utc_now(),
        "resumed_from": resume_from,
        "config": config_to_dict(config),
        "data": data,
        "corpus": read_json(corpus_manifest) if corpus_manifest else None,
        "packages": package_versions(),
        "hardware": hardware_summary(),
    }


def _save_adapter(trainer: Any, tokenizer: Any, config: TrainConfig, manifest: dict[str, Any]) -> Path:
    """Save the adapter, tokenizer and manifest into a temporary folder, then rename it into place."""
    final_dir = config.output_dir / ADAPTER_DIR_NAME
    temporary = config.output_dir / f".{ADAPTER_DIR_NAME}.partial"
    if temporary.exists():
        shutil.rmtree(temporary)
    trainer.model.save_pretrained(temporary)
    tokenizer.save_pretrained(temporary)
    write_json_atomic(temporary / ADAPTER_SIDECAR, manifest)
    if final_dir.exists():
        shutil.rmtree(final_dir)
    os.replace(temporary, final_dir)
    return final_dir


def run_training(config: TrainConfig, *, resume: bool = False) -> TrainResult:
    """Fine-tune `config.model.base` with LoRA and save the adapter under `config.output_dir/adapter`.

    Everything that can be checked without the model (config, hardware,
    output folder, data files) is checked first. Checkpoints go to
    `output_dir/checkpoint-<step>`; `resume=True` continues from the last one.
    The status in `run-manifest.json` is "running" until the adapter is saved
    and then "completed".
    """
    prepared = prepare(config, resume=resume)
    started = time.monotonic()

    from transformers import PrinterCallback, Trainer

    cuda = _cuda_available()
    tokenizer = _load_tokenizer(config)
    train_sequences, stats = encode_examples(
        tokenizer, prepared.train, max_length=config.data.max_length, packing=config.data.packing,
        source=str(config.data.train_file),
    )
    eval_dataset = None
    if prepared.eval is not None:
        eval_sequences, _ = encode_examples(
            tokenizer, prepared.eval, max_length=config.data.max_length, packing=config.data.packing,
            source=str(config.data.eval_file),
        )
        eval_dataset = SequenceDataset(eval_sequences)
    if not train_sequences:
        raise ConfigError(f"{config.data.train_file}: no example keeps an assistant token within data.max_length")

    resume_from = last_checkpoint(config.output_dir) if resume else None
    model = _wrap_lora(_load_model(config, cuda=cuda), config)
    arguments = _training_arguments(config, cuda=cuda, has_eval=eval_dataset is not None)
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=SequenceDataset(train_sequences),
        eval_dataset=eval_dataset,
        data_collator=ChatCollator(pad_token_id=tokenizer.pad_token_id, packing=config.data.packing),
        callbacks=[make_jsonl_callback(config.output_dir / METRICS_NAME), _progress_callback()],
    )
    # The Trainer's printer writes each log dict to stdout, which carries only results here.
    trainer.remove_callback(PrinterCallback)

    manifest = _base_manifest(config, stats, resume_from=resume_from.name if resume_from else None)
    manifest_path = config.output_dir / MANIFEST_NAME
    if trainer.is_world_process_zero():
        previous = read_json(manifest_path) if resume else None
        if previous is not None:
            manifest["started_at"] = previous.get("started_at", manifest["started_at"])
        write_json_atomic(manifest_path, manifest)

    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    trainer.accelerator.wait_for_everyone()
    adapter_dir = config.output_dir / ADAPTER_DIR_NAME
    losses = [record["loss"] for record in _read_metrics_safe(config.output_dir) if "loss" in record]
    if trainer.is_world_process_zero():
        manifest.update(
            status="completed",
            finished_at=utc_now(),
            global_step=trainer.state.global_step,
            train_loss=output.training_loss,
            num_input_tokens_seen=trainer.state.num_input_tokens_seen,
        )
        adapter_dir = _save_adapter(trainer, tokenizer, config, manifest)
        write_json_atomic(manifest_path, manifest)
    trainer.accelerator.wait_for_everyone()

    return TrainResult(
        output_dir=config.output_dir,
        adapter_dir=adapter_dir,
        global_step=trainer.state.global_step,
        resumed_from=manifest["resumed_from"],
        first_loss=losses[0] if losses else None,
        final_loss=losses[-1] if losses else None,
        runtime_s=time.monotonic() - started,
        stats=stats,
        main_process=trainer.is_world_process_zero(),
    )


def _read_metrics_safe(output_dir: Path) -> list[dict[str, Any]]:
    path = output_dir / METRICS_NAME
    return read_metrics(path) if path.is_file() else []

