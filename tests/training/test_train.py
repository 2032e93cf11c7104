"""`ctiforge train` on the tiny model: loss falls, records are written, resume and DDP work."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctiforge.training import read_metrics

# Required fall of the mean loss from the first five to the last five of 30 steps.
LOSS_DROP = 0.20


def test_train_loss_falls(trained_run: Path) -> None:
    losses = [record["loss"] for record in read_metrics(trained_run / "metrics.jsonl") if "loss" in record]
    assert len(losses) == 30
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last <= (1 - LOSS_DROP) * first, f"loss {first:.3f} -> {last:.3f}"


def test_train_stderr_no_future_warning(trained_run: Path) -> None:
    stderr = (trained_run.parent / "train-stderr.txt").read_text(encoding="utf-8")
    assert "FutureWarning" not in stderr


@pytest.mark.parametrize("enabled", [True, False])
def test_checkpointing_arguments_current_names(enabled: bool) -> None:
    import warnings

    from transformers import TrainingArguments

    from ctiforge.training._trainer import _checkpointing_arguments

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        arguments = TrainingArguments(output_dir="unused", use_cpu=True,
                                      **_checkpointing_arguments(TrainingArguments, enabled))
    assert arguments.gradient_checkpointing is enabled


def test_train_manifest_complete(trained_run: Path) -> None:
    manifest = json.loads((trained_run / "run-manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["global_step"] == 30
    assert len(manifest["data"]["train_sha256"]) == 64
    assert manifest["config"]["lora"]["r"] == 8
    assert "torch" in manifest["packages"]
    assert manifest["hardware"]["world_size"] == 1


def test_train_adapter_saved(trained_run: Path) -> None:
    adapter = trained_run / "adapter"
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "chat_template.jinja",
                 "ctiforge-adapter.json"):
        assert (adapter / name).is_file(), name
    assert not (trained_run / ".adapter.partial").exists()


def test_train_checkpoints_kept(trained_run: Path) -> None:
    assert sorted(path.name for path in trained_run.glob("checkpoint-*")) == \
        ["checkpoint-10", "checkpoint-20", "checkpoint-30"]


def test_train_existing_run_rejected(cli, trained_run: Path, cwe_chat_file: Path) -> None:
    result = cli("train", "--check", f"data.train_file={cwe_chat_file}", "model.precision=fp32",
                 f"output_dir={trained_run}")
    assert result.returncode == 2
    assert "already contains checkpoint-30; pass --resume" in result.stderr


def test_resume_without_checkpoint(cli, tmp_path: Path, cwe_chat_file: Path) -> None:
    result = cli("train", "--check", "--resume", f"data.train_file={cwe_chat_file}", "model.precision=fp32",
                 f"output_dir={tmp_path}")
    assert result.returncode == 2
    assert "has no checkpoint-* folder to resume from" in result.stderr


def _wait_for(path: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"training ended before {path} appeared: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


@pytest.mark.slow
def test_resume_continues_from_checkpoint(cli, tmp_path: Path, tiny_model: Path, cwe_chat_file: Path,
                                          tiny_overrides: tuple[str, ...], config_writer) -> None:
    out = tmp_path / "out"
    config = config_writer(tmp_path / "train.yaml", base=tiny_model, train_file=cwe_chat_file, output_dir=out)
    arguments = ["train", "--config", str(config), *tiny_overrides, "training.max_steps=60",
                 "training.save_steps=5"]
    process = subprocess.Popen([sys.executable, "-m", "ctiforge", *arguments], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    _wait_for(out / "checkpoint-5" / "trainer_state.json", process, timeout=300)
    process.kill()
    process.communicate()

    manifest = json.loads((out / "run-manifest.json").read_text())
    assert manifest["status"] == "running"
    assert not (out / "adapter").exists()
    complete = [path for path in out.glob("checkpoint-*") if (path / "trainer_state.json").is_file()]
    checkpoint_step = max(int(path.name.split("-")[1]) for path in complete)
    assert checkpoint_step < 60
    records_before = len(read_metrics(out / "metrics.jsonl"))

    result = cli(*arguments[:1], "--resume", *arguments[1:])
    assert result.returncode == 0, result.stderr[-2000:]
    resumed = read_metrics(out / "metrics.jsonl")[records_before:]
    assert resumed[0]["step"] == checkpoint_step + 1
    manifest = json.loads((out / "run-manifest.json").read_text())
    assert manifest["resumed_from"] == f"checkpoint-{checkpoint_step}"
    assert manifest["global_step"] == 60
    assert manifest["status"] == "completed"


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path: Path, tiny_model: Path, cwe_chat_file: Path,
                               tiny_overrides: tuple[str, ...], config_writer) -> None:
    # torchrun, because `accelerate launch --cpu` starts several CPU processes only through MPI.
    out = tmp_path / "out"
    config = config_writer(tmp_path / "train.yaml", base=tiny_model, train_file=cwe_chat_file, output_dir=out)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "ctiforge", "train", "--config", str(config), *tiny_overrides,
         "training.max_steps=6", "training.save_steps=6"],
        capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("adapter:") == 1
    manifest = json.loads((out / "run-manifest.json").read_text())
    assert manifest["hardware"]["world_size"] == 2
    assert manifest["global_step"] == 6
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    records = [record for record in read_metrics(out / "metrics.jsonl") if "loss" in record]
    assert [record["step"] for record in records] == [1, 2, 3, 4, 5, 6]
    # Each process reads half of the sequences, 2 per step, so an epoch takes ceil(sequences / 4) steps.
    assert records[0]["epoch"] == pytest.approx(1 / math.ceil(manifest["data"]["sequences"] / 4))
