"""Training config: recipe defaults, dotted overrides, errors that list every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctiforge.errors import ConfigError
from ctiforge.training import TrainConfig, load_train_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


cpu_only = pytest.mark.skipif(_cuda_available(), reason="checks the error shown on a machine without a GPU")


def test_defaults_are_reference_recipe() -> None:
    config = TrainConfig()
    assert config.model.base == "Qwen/Qwen3-4B-Instruct-2507"
    assert (config.lora.r, config.lora.alpha, config.lora.dropout) == (64, 64, 0.05)
    assert config.lora.target_modules == "auto"
    assert (config.training.learning_rate, config.training.lr_scheduler) == (5e-5, "cosine")
    assert (config.training.warmup_ratio, config.training.weight_decay) == (0.05, 0.01)
    assert config.training.epochs == 10
    assert (config.training.per_device_batch_size, config.training.gradient_accumulation_steps) == (2, 8)
    assert (config.data.max_length, config.data.packing) == (4096, True)
    assert config.model.precision == "bf16"


def test_shipped_config_equals_defaults() -> None:
    config = load_train_config(REPO_ROOT / "configs" / "train.yaml")
    assert config == TrainConfig(data={"train_file": "corpus/corpus.jsonl"})


def test_overrides_parse_yaml_values(tmp_path: Path) -> None:
    config = load_train_config(None, ["data.train_file=x.jsonl", "lora.r=16", "training.learning_rate=1e-4",
                                      "logging.sinks=[jsonl,tensorboard]", "data.packing=false"])
    assert config.lora.r == 16
    assert config.training.learning_rate == 1e-4
    assert config.logging.sinks == ["jsonl", "tensorboard"]
    assert config.data.packing is False


def test_override_beats_file(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("data: {train_file: a.jsonl}\nlora: {r: 4}\n")
    assert load_train_config(path, ["lora.r=32"]).lora.r == 32


def test_errors_listed_together(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data: {train_file: a.jsonl, max_lenght: 100}\nlora: {r: many}\nmodel: {precision: fp8}\n")
    with pytest.raises(ConfigError) as caught:
        load_train_config(path, ["training.epoch=3"])
    message = str(caught.value)
    assert "unknown key 'data.max_lenght'" in message
    assert "max_length" in message  # the valid keys of the section are listed
    assert "lora.r" in message
    assert "'bf16', 'fp16' or 'fp32'" in message
    assert "unknown key 'training.epoch'" in message
    assert "\n" not in message


def test_missing_train_file() -> None:
    with pytest.raises(ConfigError, match="data.train_file is missing"):
        load_train_config(None, [])


def test_override_without_equals() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        load_train_config(None, ["lora.r"])


def test_cli_bad_config_one_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data: {train_file: a.jsonl}\nlora: {rank: 8}\n")
    result = cli("train", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid config")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@cpu_only
def test_cli_gpu_options_on_cpu(cli, tmp_path: Path, cwe_chat_file: Path) -> None:
    result = cli("train", "--check", f"data.train_file={cwe_chat_file}", "model.qlora=true",
                 f"output_dir={tmp_path / 'out'}")
    assert result.returncode == 2
    assert "model.precision=bf16 needs a CUDA GPU" in result.stderr
    assert "pass model.precision=fp32" in result.stderr
    assert "model.qlora=true needs a CUDA GPU" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_broken_jsonl_line_numbers(cli, tmp_path: Path, cwe_chat_file: Path) -> None:
    lines = cwe_chat_file.read_text().splitlines()[:5]
    lines[1] = lines[1][:-3]
    lines[3] = '{"messages": [{"role": "user", "content": "no answer"}]}'
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n")
    result = cli("train", "--check", f"data.train_file={broken}", "model.precision=fp32",
                 f"output_dir={tmp_path / 'out'}")
    assert result.returncode == 2
    assert "line 2: invalid JSON" in result.stderr
    assert "line 4: no assistant message" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_prepare_accepts_valid_data(tmp_path: Path, cwe_chat_file: Path) -> None:
    from ctiforge.training._trainer import prepare

    config = load_train_config(None, [f"data.train_file={cwe_chat_file}", "model.precision=fp32",
                                       f"output_dir={tmp_path / 'out'}"])
    assert len(prepare(config, resume=False).train) == 300
