"""`ctiforge merge`: equivalence-checked merge, sidecar, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ctiforge.merging import compare_outputs


def test_merge_writes_full_model(merged_model: Path) -> None:
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json",
                 "chat_template.jinja", "ctiforge-model.json"):
        assert (merged_model / name).is_file(), name
    assert not any(path.name.startswith(".") for path in merged_model.parent.iterdir())


def test_merge_sidecar(merged_model: Path, tiny_model: Path) -> None:
    sidecar = json.loads((merged_model / "ctiforge-model.json").read_text())
    assert sidecar["base_model"] == str(tiny_model)
    assert sidecar["dtype"] == "fp32"
    assert sidecar["adapter_config"]["r"] == 8
    assert sidecar["training_manifest"]["status"] == "completed"
    assert sidecar["equivalence"]["passed"] is True
    assert sidecar["equivalence"]["max_abs_logit_diff"] <= sidecar["equivalence"]["tolerance"]


def test_merged_loads_without_peft(merged_model: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(merged_model)
    assert not any("lora" in name for name, _ in model.named_parameters())


def test_merge_existing_out_rejected(cli, trained_run: Path, merged_model: Path) -> None:
    before = (merged_model / "model.safetensors").stat().st_mtime_ns
    result = cli("merge", "--adapter", str(trained_run / "adapter"), "--out", str(merged_model))
    assert result.returncode == 2
    assert "already exists; pass --overwrite" in result.stderr
    assert (merged_model / "model.safetensors").stat().st_mtime_ns == before


def test_merge_overwrite_replaces(cli, trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "merged"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    result = cli("merge", "--adapter", str(trained_run / "adapter"), "--out", str(out), "--overwrite", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["equivalence"]["greedy_match"] is True
    assert not (out / "stale.txt").exists()


def test_merge_missing_base_names_fix(cli, trained_run: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    shutil.copytree(trained_run / "adapter", adapter)
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(tmp_path / "moved-base")
    config_path.write_text(json.dumps(config))
    result = cli("merge", "--adapter", str(adapter), "--out", str(tmp_path / "merged"))
    assert result.returncode == 2
    assert str(tmp_path / "moved-base") in result.stderr
    assert "adapter_config.json" in result.stderr
    assert "--base" in result.stderr
    assert not (tmp_path / "merged").exists()


def test_merge_not_an_adapter(cli, tmp_path: Path) -> None:
    result = cli("merge", "--adapter", str(tmp_path), "--out", str(tmp_path / "merged"))
    assert result.returncode == 2
    assert "adapter_config.json not found" in result.stderr


def test_compare_detects_changed_greedy() -> None:
    import torch

    logits = [torch.zeros(1, 3, 5)]
    report = compare_outputs((logits, [[1, 2]]), (logits, [[1, 3]]), half_precision=False)
    assert report.passed is False
    assert report.greedy_match is False


def test_compare_detects_logit_drift() -> None:
    import torch

    reference = [torch.zeros(1, 3, 5)]
    drifted = [torch.full((1, 3, 5), 0.01)]
    report = compare_outputs((reference, [[1]]), (drifted, [[1]]), half_precision=False)
    assert report.passed is False
    assert report.max_abs_logit_diff == pytest.approx(0.01)
