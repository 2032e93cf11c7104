"""Training commands in a core install: torch, transformers and peft hidden from the interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Loaded at interpreter start through PYTHONPATH, so `import torch` raises
# ImportError in the CLI subprocess the way it does in a core install.
_HIDE_PACKAGES = '''
import sys

HIDDEN = {"torch", "transformers", "peft", "accelerate", "trl"}


class HideFinder:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ImportError(f"No module named {name!r} (hidden by the test)")
        return None


sys.meta_path.insert(0, HideFinder())
'''


@pytest.fixture
def core_env(tmp_path: Path) -> dict[str, str]:
    """Environment variables that hide the train extra's packages from a subprocess."""
    folder = tmp_path / "hide-torch"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(_HIDE_PACKAGES, encoding="utf-8")
    return {"PYTHONPATH": str(folder)}


def _assert_install_hint(result, extra: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"pip install 'ctiforge[{extra}]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_hidden_torch_import_fails(core_env: dict[str, str]) -> None:
    # The other tests here prove nothing unless the hiding works.
    probe = subprocess.run([sys.executable, "-c", "import torch"], env={**os.environ, **core_env},
                           capture_output=True, text=True)
    assert probe.returncode == 1
    assert "hidden by the test" in probe.stderr


@pytest.mark.parametrize("check", [True, False])
def test_train_without_torch(cli, core_env: dict[str, str], tmp_path: Path, check: bool) -> None:
    train_file = tmp_path / "train.jsonl"
    train_file.write_text('{"messages": [{"role": "user", "content": "q"}, '
                          '{"role": "assistant", "content": "a"}]}\n', encoding="utf-8")
    args = ["train", "--config", str(REPO_ROOT / "configs" / "train.yaml"), f"data.train_file={train_file}",
            f"output_dir={tmp_path / 'run'}"]
    result = cli(*args, *(["--check"] if check else []), env=core_env)
    _assert_install_hint(result, "train")


def test_merge_without_torch(cli, core_env: dict[str, str], tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "base", "peft_type": "LORA"}',
                                                 encoding="utf-8")
    result = cli("merge", "--adapter", str(adapter), "--out", str(tmp_path / "merged"), env=core_env)
    _assert_install_hint(result, "hf")


def test_export_without_torch(cli, core_env: dict[str, str], tmp_path: Path) -> None:
    result = cli("export", "gguf", "--model", str(tmp_path), "--out", str(tmp_path / "model.gguf"), env=core_env)
    _assert_install_hint(result, "hf")


def test_card_without_torch(cli, core_env: dict[str, str], trained_run: Path) -> None:
    # A card reads JSON manifests only, so it must work in a core install.
    result = cli("card", "--model", str(trained_run / "adapter"), env=core_env)
    assert result.returncode == 0, result.stderr
    assert "| method | LoRA |" in result.stdout
