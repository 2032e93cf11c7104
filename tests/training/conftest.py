"""Session fixtures for the training tests: the tiny model, real chat data, one trained adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctiforge.testing.tiny import build_tiny_qwen3, tiny_training_text

# One thread keeps the tests' CPU use within the shared CI budget.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The recipe a CPU test can run in seconds: fp32, short sequences, a high learning rate.
TINY_OVERRIDES = (
    "model.precision=fp32",
    "data.max_length=256",
    "lora.r=8",
    "lora.alpha=16",
    "training.learning_rate=2.0e-3",
    "training.warmup_ratio=0.0",
    "training.per_device_batch_size=2",
    "training.gradient_accumulation_steps=1",
    "training.logging_steps=1",
)


def run_session_cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `ctiforge` in a subprocess for a session fixture, offline and with its own CTIFORGE_HOME.

    The repository's `cli` fixture is per test, so session fixtures use this.
    """
    env = dict(os.environ, CTIFORGE_HOME=str(home / "ctiforge-home"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "ctiforge", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 model folder, built once per session."""
    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def cwe_chat_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chat JSONL of 300 real CWE name -> CWE id questions from the shipped catalog."""
    path = tmp_path_factory.mktemp("data") / "cwe-chat.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for line in tiny_training_text(max_lines=300):
            cwe_id, _, rest = line.partition(": ")
            name = rest.split(". ", 1)[0]
            record = {
                "messages": [
                    {"role": "user", "content": f"Which CWE is named '{name}'?"},
                    {"role": "assistant", "content": cwe_id},
                ],
                "id": cwe_id,
            }
            handle.write(json.dumps(record) + "\n")
    return path


def write_config(path: Path, *, base: Path, train_file: Path, output_dir: Path, **sections: dict) -> Path:
    """Write a training YAML for the tiny model; keyword sections are merged in."""
    import yaml

    config = {
        "output_dir": str(output_dir),
        "model": {"base": str(base)},
        "data": {"train_file": str(train_file)},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, cwe_chat_file: Path) -> Path:
    """Output folder of one 30-step CLI training run of the tiny model, shared by the tests."""
    folder = tmp_path_factory.mktemp("run")
    config = write_config(folder / "train.yaml", base=tiny_model, train_file=cwe_chat_file,
                          output_dir=folder / "out")
    result = run_session_cli(folder, "train", "--config", str(config), *TINY_OVERRIDES, "training.max_steps=30",
                     "training.save_steps=10")
    assert result.returncode == 0, result.stderr[-2000:]
    # Kept for the tests that check what a user sees on stderr during training.
    (folder / "train-stderr.txt").write_text(result.stderr, encoding="utf-8")
    return folder / "out"


@pytest.fixture(scope="session")
def merged_model(tmp_path_factory: pytest.TempPathFactory, trained_run: Path) -> Path:
    """The shared run's adapter merged into the tiny base by the CLI."""
    folder = tmp_path_factory.mktemp("merged")
    result = run_session_cli(folder, "merge", "--adapter", str(trained_run / "adapter"), "--out",
                             str(folder / "model"))
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / "model"


@pytest.fixture(scope="session")
def tiny_overrides() -> tuple[str, ...]:
    """Dotted overrides of the CPU test recipe."""
    return TINY_OVERRIDES


@pytest.fixture(scope="session")
def config_writer():
    """The `write_config` helper as a fixture (test modules cannot import conftest in importlib mode)."""
    return write_config
